#include <climits>

#include "common.cuh"
#include "triangle.cuh"

namespace ortho::cuda {

constexpr int kTriangleBlock = 256;

// Zeroes the strictly upper elements (i < j): one thread per element,
// coalesced.
template <typename T>
static __global__ void zero_upper_kernel(int64_t batch, Mat<T> A) {
  const int64_t n = A.rows, per = n * n, total = batch * per;
  for (int64_t t = globalThread(); t < total; t += gridThreads()) {
    const int64_t b = t / per, r = t % per, i = r / n, j = r % n;
    if (j > i) at(A, b, i, j) = T(0);
  }
}

// Moves between the triangles through a shared-memory tile, so the
// transposed side is coalesced too. Blocks over the tiles (I, J) with
// I <= J (tile rows I.., columns J..); each reads one tile into shared
// memory before it writes, and no two blocks touch the same element:
//   Mirror:   A(i, j) = A(j, i) for i < j: reads tile (J, I), writes the
//             strict upper part of tile (I, J).
//   MoveDown: A(j, i) = A(i, j), then A(i, j) = 0, for i < j: reads tile
//             (I, J), writes the strict lower part of tile (J, I) and zeroes
//             the strict upper part of tile (I, J).
// On a diagonal tile (I == J) the reads all precede the writes (one
// barrier), so the in-tile exchange is race-free.
enum class TriMode { Mirror, MoveDown };

template <typename T>
static __global__ void triangle_tiled_kernel(int64_t batch, Mat<T> A, TriMode mode) {
  __shared__ Tile<T> tile;
  const int64_t n = A.rows, J = int64_t(blockIdx.x) * kTile;
  const int x = threadIdx.x;
  for (int64_t b = blockIdx.z; b < batch; b += gridDim.z) {
    for (int64_t I = int64_t(blockIdx.y) * kTile; I <= J && I < n; I += int64_t(gridDim.y) * kTile) {
      if (mode == TriMode::Mirror) {
        loadSmemTile(tile, A, b, J, I);  // tile[k][x] = A(J + k, I + x)
        __syncthreads();
        for (int k = threadIdx.y; k < kTile; k += kTileRows) {
          const int64_t i = I + k, j = J + x;
          if (j < n && i < j) at(A, b, i, j) = tile[x][k];  // A(J + x, I + k)
        }
      } else {
        loadSmemTile(tile, A, b, I, J);  // tile[k][x] = A(I + k, J + x)
        __syncthreads();
        for (int k = threadIdx.y; k < kTile; k += kTileRows) {
          const int64_t i = J + k, j = I + x;
          if (i < n && i > j) at(A, b, i, j) = tile[x][k];  // A(I + x, J + k)
        }
        for (int k = threadIdx.y; k < kTile; k += kTileRows) {
          const int64_t i = I + k, j = J + x;
          if (j < n && i < j) at(A, b, i, j) = T(0);
        }
      }
      __syncthreads();  // the tile is reused by the next (I, b)
    }
  }
}

template <typename T>
static void launchTriangleTiled(int64_t batch, Mat<T> A, TriMode mode, cudaStream_t stream) {
  triangle_tiled_kernel<T><<<tileGrid(batch, A.rows, A.rows), tileBlock(), 0, stream>>>(batch, A, mode);
  ORTHO_CUDA_CHECK_LAUNCH("triangle_tiled_kernel");
}

// One block per matrix whose info is 0: the first non-finite diagonal
// element j (a block-wide minimum) becomes info = j + 1.
template <typename T>
static __global__ void nonfinite_pivot_kernel(int64_t batch, Mat<const T> A, int* info) {
  __shared__ int first[kTriangleBlock];
  for (int64_t b = blockIdx.x; b < batch; b += gridDim.x) {
    if (info[b] != 0) continue;  // uniform over the block
    int mine = INT_MAX;
    for (int64_t j = threadIdx.x; j < A.rows; j += blockDim.x)
      if (!isfinite(at(A, b, j, j))) {
        mine = static_cast<int>(j + 1);
        break;
      }
    first[threadIdx.x] = mine;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
      if (threadIdx.x < s) first[threadIdx.x] = std::min(first[threadIdx.x], first[threadIdx.x + s]);
      __syncthreads();
    }
    if (threadIdx.x == 0 && first[0] != INT_MAX) info[b] = first[0];
    __syncthreads();  // first[] is reused for the next matrix
  }
}

template <typename T>
void launchNonFinitePivots(int64_t batch, Mat<const T> A, int* info, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(batch, 65535)));
  nonfinite_pivot_kernel<T><<<blocks, kTriangleBlock, 0, stream>>>(batch, A, info);
  ORTHO_CUDA_CHECK_LAUNCH("nonfinite_pivot_kernel");
}

template <typename T>
void launchTriangle(int64_t batch, Mat<T> A, TriOp op, cudaStream_t stream) {
  if (op == TriOp::LowerToFull) {
    launchTriangleTiled(batch, A, TriMode::Mirror, stream);
    return;
  }
  zero_upper_kernel<T><<<blocksFor(batch * A.rows * A.rows, kTriangleBlock), kTriangleBlock, 0, stream>>>(batch, A);
  ORTHO_CUDA_CHECK_LAUNCH("zero_upper_kernel");
}

template <typename T>
void launchUpperToLower(int64_t batch, Mat<T> A, cudaStream_t stream) {
  launchTriangleTiled(batch, A, TriMode::MoveDown, stream);
}

template void launchTriangle<float>(int64_t, Mat<float>, TriOp, cudaStream_t);
template void launchTriangle<double>(int64_t, Mat<double>, TriOp, cudaStream_t);
template void launchUpperToLower<float>(int64_t, Mat<float>, cudaStream_t);
template void launchUpperToLower<double>(int64_t, Mat<double>, cudaStream_t);
template void launchNonFinitePivots<float>(int64_t, Mat<const float>, int*, cudaStream_t);
template void launchNonFinitePivots<double>(int64_t, Mat<const double>, int*, cudaStream_t);

}  // namespace ortho::cuda
