#include "axpby.cuh"
#include "common.cuh"

namespace ortho::cuda {

constexpr int kAxpbyBlock = 256;

template <typename T>
static __global__ void axpby_kernel(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B) {
  const int64_t per = B.rows * B.cols, total = batch * per;
  for (int64_t t = globalThread(); t < total; t += gridThreads()) {
    const int64_t b = t / per, r = t % per, i = r / B.cols, j = r % B.cols;
    T& out = at(B, b, i, j);
    const T a = at(A, b, i, j);
    out = beta == T(0) ? alpha * a : alpha * a + beta * out;  // beta == 0: B is not read (may hold NaN)
  }
}

template <typename T>
void launchAxpby(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B, cudaStream_t stream) {
  axpby_kernel<T><<<blocksFor(batch * B.rows * B.cols, kAxpbyBlock), kAxpbyBlock, 0, stream>>>(batch, alpha, A, beta, B);
  ORTHO_CUDA_CHECK_LAUNCH("axpby_kernel");
}

template void launchAxpby<float>(int64_t, float, Mat<const float>, float, Mat<float>, cudaStream_t);
template void launchAxpby<double>(int64_t, double, Mat<const double>, double, Mat<double>, cudaStream_t);

}  // namespace ortho::cuda
