#include "prim_timer.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace ortho::cuda {
namespace {
thread_local std::string path;  // the timed calls enclosing this one, '/'-joined
}  // namespace

bool PrimTimer::enabled() {
  static const bool on = [] {
    const char* v = std::getenv("ORTHO_CUDA_PROFILE");
    return v && std::strcmp(v, "1") == 0;
  }();
  return on;
}

PrimTimer::PrimTimer(const DeviceContext& ctx, const char* name) {
  if (!enabled()) return;
  if (cudaEventCreate(&start_) != cudaSuccess || cudaEventCreate(&stop_) != cudaSuccess ||
      cudaEventRecord(start_, ctx.stream) != cudaSuccess) {
    // A diagnostic must not turn into the call's error: the failure is
    // cleared (the launch checks read cudaGetLastError) and the call untimed.
    (void)cudaGetLastError();
    return;
  }
  stream_ = ctx.stream;
  outerLength_ = path.size();
  if (!path.empty()) path += '/';
  path += name;
  on_ = true;
}

PrimTimer::~PrimTimer() {
  if (on_) {
    float ms = -1;
    if (cudaEventRecord(stop_, stream_) != cudaSuccess || cudaEventSynchronize(stop_) != cudaSuccess ||
        cudaEventElapsedTime(&ms, start_, stop_) != cudaSuccess)
      ms = -1;
    std::fprintf(stderr, "ortho-prim %s %.4f\n", path.c_str(), ms);
    path.resize(outerLength_);
  }
  if (start_) cudaEventDestroy(start_);
  if (stop_) cudaEventDestroy(stop_);
  (void)cudaGetLastError();
}

}  // namespace ortho::cuda
