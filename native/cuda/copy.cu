#include "common.cuh"
#include "copy.cuh"

namespace ortho::cuda {

constexpr int kCopyBlock = 256;

template <typename T>
static __global__ void copy_kernel(int64_t batch, Mat<const T> A, Mat<T> B) {
  const int64_t per = B.rows * B.cols, total = batch * per;
  for (int64_t t = globalThread(); t < total; t += gridThreads()) {
    const int64_t b = t / per, r = t % per, i = r / B.cols, j = r % B.cols;
    at(B, b, i, j) = at(A, b, i, j);
  }
}

// B (rows x cols) = A^T through a shared-memory tile, so both the reads of
// A and the writes of B are coalesced. Blocks loop over tile rows (grid.y)
// and matrices (grid.z) past the grid limits. With zeroBelow, B's strictly
// lower elements are written as 0 instead (B = triu(A^T)).
template <typename T>
static __global__ void transpose_kernel(int64_t batch, Mat<const T> A, Mat<T> B, bool zeroBelow) {
  __shared__ Tile<T> tile;
  const int64_t tileCol = int64_t(blockIdx.x) * kTile;
  for (int64_t b = blockIdx.z; b < batch; b += gridDim.z) {
    for (int64_t tileRow = int64_t(blockIdx.y) * kTile; tileRow < B.rows; tileRow += int64_t(gridDim.y) * kTile) {
      loadSmemTile(tile, A, b, tileCol, tileRow);  // A's rows are B's columns and the other way round
      __syncthreads();
      for (int k = threadIdx.y; k < kTile; k += kTileRows) {
        const int64_t bi = tileRow + k, bj = tileCol + threadIdx.x;
        if (bi < B.rows && bj < B.cols) at(B, b, bi, bj) = zeroBelow && bi > bj ? T(0) : tile[threadIdx.x][k];
      }
      __syncthreads();
    }
  }
}

template <typename T>
static void launchTranspose(int64_t batch, Mat<const T> A, Mat<T> B, bool zeroBelow, cudaStream_t stream) {
  // x: tiles over B's columns (< 2^31 tiles since dims < 2^31); y, z: capped.
  transpose_kernel<T><<<tileGrid(batch, B.rows, B.cols), tileBlock(), 0, stream>>>(batch, A, B, zeroBelow);
  ORTHO_CUDA_CHECK_LAUNCH("transpose_kernel");
}

template <typename T>
void launchCopy(int64_t batch, Mat<const T> A, Op op, Mat<T> B, cudaStream_t stream) {
  if (op == Op::N) {
    copy_kernel<T><<<blocksFor(batch * B.rows * B.cols, kCopyBlock), kCopyBlock, 0, stream>>>(batch, A, B);
    ORTHO_CUDA_CHECK_LAUNCH("copy_kernel");
    return;
  }
  launchTranspose(batch, A, B, false, stream);
}

template <typename T>
void launchTransposeUpper(int64_t batch, Mat<const T> A, Mat<T> B, cudaStream_t stream) {
  launchTranspose(batch, A, B, true, stream);
}

template void launchCopy<float>(int64_t, Mat<const float>, Op, Mat<float>, cudaStream_t);
template void launchCopy<double>(int64_t, Mat<const double>, Op, Mat<double>, cudaStream_t);
template void launchTransposeUpper<float>(int64_t, Mat<const float>, Mat<float>, cudaStream_t);
template void launchTransposeUpper<double>(int64_t, Mat<const double>, Mat<double>, cudaStream_t);

}  // namespace ortho::cuda
