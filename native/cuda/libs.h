// The one place that knows cuBLAS and cuSOLVER: our own declarations of the
// entry points we call (the build machine has no cuBLAS/cuSOLVER headers),
// and a loader that dlopen()s the libraries at run time and dlsym()s each
// symbol. libs_check.cpp, compiled only where the real headers exist,
// static_asserts that these declarations and enum values match them.
//
// Types and enums live in ortho::cudalib under the real names, so the
// function table below (ORTHO_CUBLAS_FUNCTIONS / ORTHO_CUSOLVER_FUNCTIONS)
// reads like the real prototypes; the check expands the same table in a
// namespace where those names mean the real types.
#pragma once

#include <cuda_runtime_api.h>
#include <library_types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

// Opaque handle structs, at global scope as in the real headers.
struct cublasContext;
struct cusolverDnContext;
struct gesvdjInfo;
struct cusolverDnParams;

namespace ortho::cudalib {

using cublasHandle_t = ::cublasContext*;
using cusolverDnHandle_t = ::cusolverDnContext*;
using gesvdjInfo_t = ::gesvdjInfo*;
using cusolverDnParams_t = ::cusolverDnParams*;

/// cublasStatus_t (cublas_api.h); only the values we name in messages.
enum class cublasStatus_t : int {
  SUCCESS = 0,
  NOT_INITIALIZED = 1,
  ALLOC_FAILED = 3,
  INVALID_VALUE = 7,
  ARCH_MISMATCH = 8,
  MAPPING_ERROR = 11,
  EXECUTION_FAILED = 13,
  INTERNAL_ERROR = 14,
  NOT_SUPPORTED = 15,
  LICENSE_ERROR = 16,
};
enum class cublasOperation_t : int { N = 0, T = 1 };
enum class cublasFillMode_t : int { LOWER = 0, UPPER = 1 };
enum class cublasSideMode_t : int { LEFT = 0, RIGHT = 1 };
enum class cublasDiagType_t : int { NON_UNIT = 0, UNIT = 1 };
enum class cublasPointerMode_t : int { HOST = 0, DEVICE = 1 };
/// PEDANTIC: no TF32 or other reduced-precision shortcuts for float32.
enum class cublasMath_t : int { DEFAULT = 0, PEDANTIC = 2, TF32_TENSOR_OP = 3 };
/// cublasComputeType_t: float32 accumulation, the operands used as they
/// are (float32, or bfloat16 ones), or float32 operands rounded to TF32.
enum class cublasComputeType_t : int { COMPUTE_32F = 68, COMPUTE_32F_FAST_TF32 = 77 };
enum class cublasGemmAlgo_t : int { DEFAULT = -1 };

/// cusolverStatus_t (cusolver_common.h).
enum class cusolverStatus_t : int {
  SUCCESS = 0,
  NOT_INITIALIZED = 1,
  ALLOC_FAILED = 2,
  INVALID_VALUE = 3,
  ARCH_MISMATCH = 4,
  MAPPING_ERROR = 5,
  EXECUTION_FAILED = 6,
  INTERNAL_ERROR = 7,
  MATRIX_TYPE_NOT_SUPPORTED = 8,
  NOT_SUPPORTED = 9,
  ZERO_PIVOT = 10,
  INVALID_LICENSE = 11,
};
enum class cusolverEigMode_t : int { NOVECTOR = 0, VECTOR = 1 };

// X(name, return type, (parameter types)) for every symbol we dlsym. The
// names are the exported symbols (cublas_v2.h maps cublasCreate to
// cublasCreate_v2 and so on with macros).
#define ORTHO_CUBLAS_FUNCTIONS(X)                                                                                     \
  X(cublasCreate_v2, cublasStatus_t, (cublasHandle_t*))                                                              \
  X(cublasDestroy_v2, cublasStatus_t, (cublasHandle_t))                                                              \
  X(cublasSetStream_v2, cublasStatus_t, (cublasHandle_t, cudaStream_t))                                              \
  X(cublasSetMathMode, cublasStatus_t, (cublasHandle_t, cublasMath_t))                                               \
  X(cublasSetPointerMode_v2, cublasStatus_t, (cublasHandle_t, cublasPointerMode_t))                                  \
  X(cublasGetProperty, cublasStatus_t, (libraryPropertyType, int*))                                                  \
  X(cublasSgemmStridedBatched, cublasStatus_t,                                                                       \
    (cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const float*, const float*, int,           \
     long long int, const float*, int, long long int, const float*, float*, int, long long int, int))                \
  X(cublasDgemmStridedBatched, cublasStatus_t,                                                                       \
    (cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const double*, const double*, int,         \
     long long int, const double*, int, long long int, const double*, double*, int, long long int, int))             \
  X(cublasGemmStridedBatchedEx, cublasStatus_t,                                                                      \
    (cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*, const void*, cudaDataType,   \
     int, long long int, const void*, cudaDataType, int, long long int, const void*, void*, cudaDataType, int,       \
     long long int, int, cublasComputeType_t, cublasGemmAlgo_t))                                                     \
  X(cublasStrsm_v2, cublasStatus_t,                                                                                  \
    (cublasHandle_t, cublasSideMode_t, cublasFillMode_t, cublasOperation_t, cublasDiagType_t, int, int,              \
     const float*, const float*, int, float*, int))                                                                  \
  X(cublasDtrsm_v2, cublasStatus_t,                                                                                  \
    (cublasHandle_t, cublasSideMode_t, cublasFillMode_t, cublasOperation_t, cublasDiagType_t, int, int,              \
     const double*, const double*, int, double*, int))                                                               \
  X(cublasStrsmBatched, cublasStatus_t,                                                                              \
    (cublasHandle_t, cublasSideMode_t, cublasFillMode_t, cublasOperation_t, cublasDiagType_t, int, int,              \
     const float*, const float* const*, int, float* const*, int, int))                                               \
  X(cublasDtrsmBatched, cublasStatus_t,                                                                              \
    (cublasHandle_t, cublasSideMode_t, cublasFillMode_t, cublasOperation_t, cublasDiagType_t, int, int,              \
     const double*, const double* const*, int, double* const*, int, int))                                            \
  X(cublasSgeqrfBatched, cublasStatus_t, (cublasHandle_t, int, int, float* const*, int, float* const*, int*, int))   \
  X(cublasDgeqrfBatched, cublasStatus_t, (cublasHandle_t, int, int, double* const*, int, double* const*, int*, int))

#define ORTHO_CUSOLVER_FUNCTIONS(X)                                                                                   \
  X(cusolverDnCreate, cusolverStatus_t, (cusolverDnHandle_t*))                                                       \
  X(cusolverDnDestroy, cusolverStatus_t, (cusolverDnHandle_t))                                                       \
  X(cusolverDnSetStream, cusolverStatus_t, (cusolverDnHandle_t, cudaStream_t))                                       \
  X(cusolverGetProperty, cusolverStatus_t, (libraryPropertyType, int*))                                              \
  X(cusolverDnSpotrfBatched, cusolverStatus_t, (cusolverDnHandle_t, cublasFillMode_t, int, float**, int, int*, int)) \
  X(cusolverDnDpotrfBatched, cusolverStatus_t,                                                                       \
    (cusolverDnHandle_t, cublasFillMode_t, int, double**, int, int*, int))                                           \
  X(cusolverDnSpotrf_bufferSize, cusolverStatus_t, (cusolverDnHandle_t, cublasFillMode_t, int, float*, int, int*))   \
  X(cusolverDnDpotrf_bufferSize, cusolverStatus_t, (cusolverDnHandle_t, cublasFillMode_t, int, double*, int, int*))  \
  X(cusolverDnSpotrf, cusolverStatus_t, (cusolverDnHandle_t, cublasFillMode_t, int, float*, int, float*, int, int*)) \
  X(cusolverDnDpotrf, cusolverStatus_t,                                                                              \
    (cusolverDnHandle_t, cublasFillMode_t, int, double*, int, double*, int, int*))                                   \
  X(cusolverDnCreateParams, cusolverStatus_t, (cusolverDnParams_t*))                                                 \
  X(cusolverDnXgeqrf_bufferSize, cusolverStatus_t,                                                                   \
    (cusolverDnHandle_t, cusolverDnParams_t, int64_t, int64_t, cudaDataType, const void*, int64_t, cudaDataType,     \
     const void*, cudaDataType, size_t*, size_t*))                                                                   \
  X(cusolverDnXgeqrf, cusolverStatus_t,                                                                              \
    (cusolverDnHandle_t, cusolverDnParams_t, int64_t, int64_t, cudaDataType, void*, int64_t, cudaDataType, void*,    \
     cudaDataType, void*, size_t, void*, size_t, int*))                                                              \
  X(cusolverDnSorgqr_bufferSize, cusolverStatus_t,                                                                   \
    (cusolverDnHandle_t, int, int, int, const float*, int, const float*, int*))                                      \
  X(cusolverDnDorgqr_bufferSize, cusolverStatus_t,                                                                   \
    (cusolverDnHandle_t, int, int, int, const double*, int, const double*, int*))                                    \
  X(cusolverDnSorgqr, cusolverStatus_t,                                                                              \
    (cusolverDnHandle_t, int, int, int, float*, int, const float*, float*, int, int*))                               \
  X(cusolverDnDorgqr, cusolverStatus_t,                                                                              \
    (cusolverDnHandle_t, int, int, int, double*, int, const double*, double*, int, int*))                            \
  X(cusolverDnSgesvd_bufferSize, cusolverStatus_t, (cusolverDnHandle_t, int, int, int*))                             \
  X(cusolverDnDgesvd_bufferSize, cusolverStatus_t, (cusolverDnHandle_t, int, int, int*))                             \
  X(cusolverDnSgesvd, cusolverStatus_t,                                                                              \
    (cusolverDnHandle_t, signed char, signed char, int, int, float*, int, float*, float*, int, float*, int, float*,  \
     int, float*, int*))                                                                                             \
  X(cusolverDnDgesvd, cusolverStatus_t,                                                                              \
    (cusolverDnHandle_t, signed char, signed char, int, int, double*, int, double*, double*, int, double*, int,      \
     double*, int, double*, int*))                                                                                   \
  X(cusolverDnCreateGesvdjInfo, cusolverStatus_t, (gesvdjInfo_t*))                                                   \
  X(cusolverDnDestroyGesvdjInfo, cusolverStatus_t, (gesvdjInfo_t))                                                  \
  X(cusolverDnSgesvdjBatched_bufferSize, cusolverStatus_t,                                                           \
    (cusolverDnHandle_t, cusolverEigMode_t, int, int, const float*, int, const float*, const float*, int,           \
     const float*, int, int*, gesvdjInfo_t, int))                                                                    \
  X(cusolverDnDgesvdjBatched_bufferSize, cusolverStatus_t,                                                           \
    (cusolverDnHandle_t, cusolverEigMode_t, int, int, const double*, int, const double*, const double*, int,        \
     const double*, int, int*, gesvdjInfo_t, int))                                                                   \
  X(cusolverDnSgesvdjBatched, cusolverStatus_t,                                                                      \
    (cusolverDnHandle_t, cusolverEigMode_t, int, int, float*, int, float*, float*, int, float*, int, float*, int,    \
     int*, gesvdjInfo_t, int))                                                                                       \
  X(cusolverDnDgesvdjBatched, cusolverStatus_t,                                                                      \
    (cusolverDnHandle_t, cusolverEigMode_t, int, int, double*, int, double*, double*, int, double*, int, double*,   \
     int, int*, gesvdjInfo_t, int))

/// Function pointers to every entry point, filled by load().
struct Api {
#define ORTHO_DECLARE_POINTER(name, ret, params) ret(*name) params = nullptr;
  ORTHO_CUBLAS_FUNCTIONS(ORTHO_DECLARE_POINTER)
  ORTHO_CUSOLVER_FUNCTIONS(ORTHO_DECLARE_POINTER)
#undef ORTHO_DECLARE_POINTER
};

/// The outcome of loading, computed once per process.
struct LoadResult {
  bool ok = false;
  /// Why loading failed (each file tried and its dlerror), empty when ok.
  std::string reason;
  /// The files actually loaded, in load order (resolved paths).
  std::vector<std::string> files;
  /// "cuBLAS 13.0.0, cuSOLVER 12.0.3" when ok.
  std::string versions;
  Api api;
};

/// Loads cuBLAS, cuSOLVER and cuSOLVER's dependencies on first call (thread
/// safe); never throws. See libs.cpp for the search order.
const LoadResult& load();

/// "CUBLAS_STATUS_INVALID_VALUE (7)" and the like.
std::string statusName(cublasStatus_t s);
std::string statusName(cusolverStatus_t s);

}  // namespace ortho::cudalib
