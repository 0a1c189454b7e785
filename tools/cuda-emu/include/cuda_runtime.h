// Fake device-side CUDA for the emulator: kernels run as fibers on the CPU.
#pragma once
#include "cuda_runtime_api.h"
#include <functional>
#include <cmath>
#include <algorithm>
#include <cstring>
namespace emu {
struct Fiber;
struct ThreadCtx { dim3 threadIdx, blockIdx, blockDim, gridDim; int linear; };
extern ThreadCtx* cur;
void syncthreads();
void syncwarp();
double* warpSlots();  // 32 doubles for the current warp
unsigned char* dynamicSmem();
void launch(dim3 grid, dim3 block, size_t smem, cudaStream_t s, std::function<void()> body);
void markLaunchError(cudaError_t e);
}
#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __align__(n) alignas(n)
#define threadIdx (emu::cur->threadIdx)
#define blockIdx (emu::cur->blockIdx)
#define blockDim (emu::cur->blockDim)
#define gridDim (emu::cur->gridDim)
#define __syncthreads() emu::syncthreads()
using std::sqrt;
using std::isfinite;
namespace emu {
// The value lane `src` of the calling warp passes in (v when src is past the
// warp), every lane arriving: the exchange behind both shuffles below.
template <typename T> T shuffle(T v, int src) {
  double* s = warpSlots();
  int lane = cur->linear & 31;
  syncwarp();
  s[lane] = static_cast<double>(v);
  syncwarp();
  T r = src < 32 ? static_cast<T>(s[src]) : v;
  syncwarp();
  return r;
}
}
template <typename T> T __shfl_down_sync(unsigned, T v, int o) { return emu::shuffle(v, (emu::cur->linear & 31) + o); }
template <typename T> T __shfl_sync(unsigned, T v, int src) { return emu::shuffle(v, src & 31); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::syncwarp(); }
inline unsigned __float_as_uint(float x) { unsigned u; std::memcpy(&u, &x, sizeof u); return u; }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { auto o = *p; *p += v; return o; }
