#include "common.cuh"
#include "qr_ut_matrix.cuh"

namespace ortho::cuda {

constexpr int kQrUtBlock = 256;

template <typename T>
static __global__ void qr_ut_matrix_kernel(int64_t batch, Mat<T> G, const T* tau) {
  const int64_t n = G.rows, per = n * n, total = batch * per;
  for (int64_t t = globalThread(); t < total; t += gridThreads()) {
    const int64_t b = t / per, q = t % per, i = q / n, j = q % n;
    T& g = at(G, b, i, j);
    g = i == j ? T(1) : (i < j ? g * tau[b * n + j] : T(0));
  }
}

template <typename T>
void launchQrUtMatrix(int64_t batch, Mat<T> G, const T* tau, cudaStream_t stream) {
  qr_ut_matrix_kernel<T><<<blocksFor(batch * G.rows * G.rows, kQrUtBlock), kQrUtBlock, 0, stream>>>(batch, G, tau);
  ORTHO_CUDA_CHECK_LAUNCH("qr_ut_matrix_kernel");
}

template void launchQrUtMatrix<float>(int64_t, Mat<float>, const float*, cudaStream_t);
template void launchQrUtMatrix<double>(int64_t, Mat<double>, const double*, cudaStream_t);

}  // namespace ortho::cuda
