// Everything the primitives of one GPU share: its stream, the cuBLAS and
// cuSOLVER handles bound to that stream, and its caching allocator.
#pragma once

#include <cuda_runtime_api.h>

#include "allocator.h"
#include "check.h"
#include "libs.h"

namespace ortho::cuda {

struct DeviceContext {
  int index = 0;
  /// The device's one stream (non-blocking): every kernel, library call and
  /// copy of this device is enqueued here, so they run in issue order.
  cudaStream_t stream = nullptr;
  cudalib::cublasHandle_t blas = nullptr;
  cudalib::cusolverDnHandle_t solver = nullptr;
  /// Options of cuSOLVER's 64-bit (cusolverDnX*) calls: the defaults.
  cudalib::cusolverDnParams_t solverParams = nullptr;
  const cudalib::Api* api = nullptr;
  CachingAllocator* alloc = nullptr;
  /// The batched GEMM-only QR enabled, as the ops' fused kernels are
  /// (ORTHO_FUSED=0 turns both off: plain cuBLAS/cuSOLVER + simple kernels).
  bool fused = true;

  /// Makes this device current on the calling thread (libuv workers start
  /// with device 0 current, whatever the tensor's device).
  void activate() const { ORTHO_CUDA_CHECK(cudaSetDevice(index)); }
};

}  // namespace ortho::cuda
