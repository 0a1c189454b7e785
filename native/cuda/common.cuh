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
/// Dynamic shared memory a block may use without the opt-in attribute; the
/// fused per-matrix kernels take a shape only when it fits.
constexpr std::size_t kMaxDefaultSmem = 48 * 1024;

/// Blocks for n elements at `block` threads each, clamped to [1, kMaxBlocks].
inline unsigned blocksFor(int64_t n, int block) {
  return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>((n + block - 1) / block, 1), kMaxBlocks));
}

/// Launch geometry of a kernel with one warp per matrix and perWarp bytes of
/// shared memory per warp: as many warps per block as maxWarps, the shared
/// memory limit and the batch allow (at least one), enough blocks for the
/// batch (the kernel loops past kMaxBlocks).
struct WarpGrid {
  int warps;
  unsigned blocks;
};
inline WarpGrid warpPerMatrixGrid(int64_t batch, int maxWarps, std::size_t perWarp) {
  const int warps = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>({maxWarps, int64_t(kMaxDefaultSmem / perWarp), batch})));
  return {warps, static_cast<unsigned>(std::min<int64_t>((batch + warps - 1) / warps, kMaxBlocks))};
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

/// Sum over a warp by shuffles (fixed order); complete in lane 0.
template <typename T>
__device__ inline T warpSum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}

/// Sum of v over the block in a fixed order (each warp by shuffles, then the
/// warps' sums in warp order), so runs are bit-identical; every thread gets
/// the result. Called by every thread; blockDim.x a multiple of 32;
/// `scratch`: shared, one double per warp, free again on return.
__device__ inline double blockSum(double v, double* scratch) {
  v = warpSum(v);
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  double total = 0;
  for (int w = 0; w < static_cast<int>(blockDim.x >> 5); ++w) total += scratch[w];
  __syncthreads();
  return total;
}

/// Square tiles for kernels that read a matrix transposed: a block of
/// kTile x kTileRows threads moves a kTile x kTile tile through shared
/// memory, so global reads and writes are both coalesced (consecutive
/// threadIdx.x on consecutive columns).
constexpr int kTile = 32;
constexpr int kTileRows = 8;

/// A tile in shared memory; the +1 column keeps the transposed reads
/// (tile[threadIdx.x][k]) free of bank conflicts.
template <typename T>
using Tile = T[kTile][kTile + 1];

/// tile[k][x] = A(r0 + k, c0 + x) for the tile's elements inside A (the
/// others are left as they are); the caller synchronizes before reading.
template <typename T, typename U>  // U: T or const T
__device__ inline void loadSmemTile(Tile<T>& tile, const Mat<U>& A, int64_t b, int64_t r0, int64_t c0) {
  for (int k = threadIdx.y; k < kTile; k += kTileRows) {
    const int64_t i = r0 + k, j = c0 + threadIdx.x;
    if (i < A.rows && j < A.cols) tile[k][threadIdx.x] = at(A, b, i, j);
  }
}

/// Launch shape for kernels over the tiles of `batch` rows x cols matrices:
/// x over tile columns, y over tile rows and z over matrices, y and z capped
/// (kernels loop past the caps).
inline dim3 tileGrid(int64_t batch, int64_t rows, int64_t cols) {
  const int64_t tilesX = (cols + kTile - 1) / kTile, tilesY = (rows + kTile - 1) / kTile;
  return dim3(static_cast<unsigned>(std::max<int64_t>(tilesX, 1)),
              static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(tilesY, 1), kMaxGridYZ)),
              static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(batch, 1), kMaxGridYZ)));
}
inline dim3 tileBlock() { return dim3(kTile, kTileRows); }

}  // namespace ortho::cuda
