// Shared by the kernel sources (*.cu) only: launch geometry and the
// element-index helpers for batches of row-major matrices.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "../core/backend.h"
#include "check.h"

namespace ortho::cuda {

/// Upper bound on blocks of 1-D launches; kernels loop (grid-stride) past it.
constexpr int64_t kMaxBlocks = int64_t(1) << 20;
/// grid.z / grid.y limit.
constexpr int64_t kMaxGridYZ = 65535;

/// Blocks for n elements at `block` threads each, clamped to [1, kMaxBlocks].
inline unsigned blocksFor(int64_t n, int block) {
  return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>((n + block - 1) / block, 1), kMaxBlocks));
}

/// Index of the first element this thread handles and the grid-wide step.
__device__ inline int64_t globalThread() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ inline int64_t gridThreads() { return int64_t(blockDim.x) * gridDim.x; }

/// Element (b, i, j) of a batch of matrices.
template <typename T>
__device__ inline T& at(const Mat<T>& m, int64_t b, int64_t i, int64_t j) {
  return m.data[b * m.stride + i * m.ld + j];
}
template <typename T>
__device__ inline const T& at(const Mat<const T>& m, int64_t b, int64_t i, int64_t j) {
  return m.data[b * m.stride + i * m.ld + j];
}

}  // namespace ortho::cuda
