// Status checks for CUDA, cuBLAS and cuSOLVER calls. A failed call throws
// ERR_ORTHO_CUDA naming the statement, the file and the line (never
// aborts: a bad call must not take the process down).
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "libs.h"

namespace ortho::cuda {

/// Throws ERR_ORTHO_CUDA: "<call> failed: <what> (<file>:<line>)".
[[noreturn]] void failCall(const char* stmt, const char* file, int line, const std::string& what);

inline void checkCuda(cudaError_t e, const char* stmt, const char* file, int line) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear a non-sticky error so later calls start clean
    failCall(stmt, file, line, std::string(cudaGetErrorString(e)) + " (" + cudaGetErrorName(e) + ")");
  }
}
inline void checkBlas(cudalib::cublasStatus_t s, const char* stmt, const char* file, int line) {
  if (s != cudalib::cublasStatus_t::SUCCESS) failCall(stmt, file, line, cudalib::statusName(s));
}
inline void checkSolver(cudalib::cusolverStatus_t s, const char* stmt, const char* file, int line) {
  if (s != cudalib::cusolverStatus_t::SUCCESS) failCall(stmt, file, line, cudalib::statusName(s));
}

}  // namespace ortho::cuda

#define ORTHO_CUDA_CHECK(stmt) ::ortho::cuda::checkCuda((stmt), #stmt, __FILE__, __LINE__)
#define ORTHO_CUBLAS_CHECK(stmt) ::ortho::cuda::checkBlas((stmt), #stmt, __FILE__, __LINE__)
#define ORTHO_CUSOLVER_CHECK(stmt) ::ortho::cuda::checkSolver((stmt), #stmt, __FILE__, __LINE__)
/// After a kernel launch: reports a bad launch configuration or an earlier
/// asynchronous failure, naming the kernel.
#define ORTHO_CUDA_CHECK_LAUNCH(kernel) \
  ::ortho::cuda::checkCuda(cudaGetLastError(), "launch of " kernel, __FILE__, __LINE__)
