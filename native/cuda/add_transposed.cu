#include "add_transposed.cuh"
#include "common.cuh"

namespace ortho::cuda {

constexpr int kAddTransposedBlock = 256;

template <typename T>
static __global__ void add_transposed_kernel(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B) {
  const int64_t n = B.rows, per = n * n, total = batch * per;
  for (int64_t t = globalThread(); t < total; t += gridThreads()) {
    const int64_t b = t / per, r = t % per, i = r / n, j = r % n;
    at(B, b, i, j) = alpha * at(A, b, i, j) + beta * at(A, b, j, i);
  }
}

template <typename T>
void launchAddTransposed(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B, cudaStream_t stream) {
  add_transposed_kernel<T><<<blocksFor(batch * B.rows * B.rows, kAddTransposedBlock), kAddTransposedBlock, 0, stream>>>(
      batch, alpha, A, beta, B);
  ORTHO_CUDA_CHECK_LAUNCH("add_transposed_kernel");
}

template void launchAddTransposed<float>(int64_t, float, Mat<const float>, float, Mat<float>, cudaStream_t);
template void launchAddTransposed<double>(int64_t, double, Mat<const double>, double, Mat<double>, cudaStream_t);

}  // namespace ortho::cuda
