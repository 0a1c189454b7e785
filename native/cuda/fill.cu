#include "common.cuh"
#include "fill.cuh"

namespace ortho::cuda {

constexpr int kFillBlock = 256;

template <typename T>
static __global__ void fill_kernel(int64_t batch, Mat<T> A, T value) {
  const int64_t per = A.rows * A.cols, total = batch * per;
  for (int64_t t = globalThread(); t < total; t += gridThreads()) {
    const int64_t b = t / per, r = t % per;
    at(A, b, r / A.cols, r % A.cols) = value;
  }
}

template <typename T>
void launchFill(int64_t batch, Mat<T> A, T value, cudaStream_t stream) {
  fill_kernel<T><<<blocksFor(batch * A.rows * A.cols, kFillBlock), kFillBlock, 0, stream>>>(batch, A, value);
  ORTHO_CUDA_CHECK_LAUNCH("fill_kernel");
}

template void launchFill<float>(int64_t, Mat<float>, float, cudaStream_t);
template void launchFill<double>(int64_t, Mat<double>, double, cudaStream_t);

}  // namespace ortho::cuda
