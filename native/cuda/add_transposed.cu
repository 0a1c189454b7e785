#include "add_transposed.cuh"
#include "common.cuh"

namespace ortho::cuda {

// Block for the output tile (I, J) (rows I.., columns J..): A's tile (J, I)
// goes through shared memory, so its transposed read is coalesced like the
// direct one. B must not overlap A.
template <typename T>
static __global__ void add_transposed_kernel(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B) {
  __shared__ Tile<T> tile;
  const int64_t n = B.rows, J = int64_t(blockIdx.x) * kTile;
  const int x = threadIdx.x;
  for (int64_t b = blockIdx.z; b < batch; b += gridDim.z) {
    for (int64_t I = int64_t(blockIdx.y) * kTile; I < n; I += int64_t(gridDim.y) * kTile) {
      loadSmemTile(tile, A, b, J, I);  // tile[k][x] = A(J + k, I + x)
      __syncthreads();
      for (int k = threadIdx.y; k < kTile; k += kTileRows) {
        const int64_t i = I + k, j = J + x;
        if (i < n && j < n) at(B, b, i, j) = alpha * at(A, b, i, j) + beta * tile[x][k];  // A(j, i)
      }
      __syncthreads();  // the tile is reused by the next (I, b)
    }
  }
}

template <typename T>
void launchAddTransposed(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B, cudaStream_t stream) {
  add_transposed_kernel<T><<<tileGrid(batch, B.rows, B.rows), tileBlock(), 0, stream>>>(batch, alpha, A, beta, B);
  ORTHO_CUDA_CHECK_LAUNCH("add_transposed_kernel");
}

template void launchAddTransposed<float>(int64_t, float, Mat<const float>, float, Mat<float>, cudaStream_t);
template void launchAddTransposed<double>(int64_t, double, Mat<const double>, double, Mat<double>, cudaStream_t);

}  // namespace ortho::cuda
