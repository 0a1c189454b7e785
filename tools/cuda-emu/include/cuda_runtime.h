// Fake device-side CUDA for the emulator: kernels run as fibers on the CPU.
#pragma once
#include "cuda_runtime_api.h"
#include <functional>
#include <cmath>
#include <algorithm>
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
template <typename T> T __shfl_down_sync(unsigned, T v, int o) {
  double* s = emu::warpSlots();
  int lane = emu::cur->linear & 31;
  emu::syncwarp();
  s[lane] = static_cast<double>(v);
  emu::syncwarp();
  T r = lane + o < 32 ? static_cast<T>(s[lane + o]) : v;
  emu::syncwarp();
  return r;
}
template <typename T> T __shfl_sync(unsigned, T v, int src) {
  double* s = emu::warpSlots();
  int lane = emu::cur->linear & 31;
  emu::syncwarp();
  s[lane] = static_cast<double>(v);
  emu::syncwarp();
  T r = static_cast<T>(s[src & 31]);
  emu::syncwarp();
  return r;
}
inline void __syncwarp(unsigned = 0xffffffffu) { emu::syncwarp(); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { auto o = *p; *p += v; return o; }
