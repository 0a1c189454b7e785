#include "add_diagonal.cuh"
#include "common.cuh"

namespace ortho::cuda {

constexpr int kAddDiagonalBlock = 256;

template <typename T>
static __global__ void add_diagonal_kernel(int64_t batch, Mat<T> A, T value) {
  const int64_t k = A.rows < A.cols ? A.rows : A.cols, total = batch * k;
  for (int64_t t = globalThread(); t < total; t += gridThreads()) {
    const int64_t b = t / k, i = t % k;
    at(A, b, i, i) += value;
  }
}

template <typename T>
void launchAddDiagonal(int64_t batch, Mat<T> A, T value, cudaStream_t stream) {
  const int64_t k = std::min(A.rows, A.cols);
  add_diagonal_kernel<T><<<blocksFor(batch * k, kAddDiagonalBlock), kAddDiagonalBlock, 0, stream>>>(batch, A, value);
  ORTHO_CUDA_CHECK_LAUNCH("add_diagonal_kernel");
}

template void launchAddDiagonal<float>(int64_t, Mat<float>, float, cudaStream_t);
template void launchAddDiagonal<double>(int64_t, Mat<double>, double, cudaStream_t);

}  // namespace ortho::cuda
