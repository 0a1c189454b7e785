// ORTHO_CUDA_PROFILE=1: where the GPU time of a call goes, for
// bench/gpu/profile.mjs (where Nsight Systems is not installed). Each primitive call is bracketed by two CUDA events on
// the device's stream, waited for, and "ortho-prim <path> <ms>" written to
// stderr; <path> names the enclosing timed calls too ("syrk/gemm",
// "qr/geqrf"). The wait after every call serializes host and GPU, so the
// sum is above a normal call's time: this finds where the time goes, it does
// not time the whole. Off (one branch per call) unless the variable is 1.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "context.h"

namespace ortho::cuda {

class PrimTimer {
 public:
  PrimTimer(const DeviceContext& ctx, const char* name);
  ~PrimTimer();
  PrimTimer(const PrimTimer&) = delete;
  PrimTimer& operator=(const PrimTimer&) = delete;

  /// ORTHO_CUDA_PROFILE is "1" (read once).
  static bool enabled();

 private:
  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  std::size_t outerLength_ = 0;  // the path's length before this call's name
  bool on_ = false;
};

}  // namespace ortho::cuda
