#include "common.cuh"
#include "qr_unpack.cuh"

namespace ortho::cuda {

constexpr int kQrUnpackBlock = 256;

// Thread for F(c, r) = factored(r, c), c < n, r < m. Every element of R is
// written by exactly one thread: R(r, c) for r <= c from the upper part,
// R(r, c) = 0 for c < r < n. Used for the batched path's small matrices
// (R's writes are strided; the looped path reads R off with a tiled
// transpose instead).
template <typename T>
static __global__ void qr_unpack_kernel(int64_t batch, Mat<T> F, Mat<T> R) {
  const int64_t n = F.rows, m = F.cols, per = n * m, total = batch * per;
  for (int64_t t = globalThread(); t < total; t += gridThreads()) {
    const int64_t b = t / per, q = t % per, c = q / m, r = q % m;
    T& f = at(F, b, c, r);
    if (r < c) {
      at(R, b, r, c) = f;
      f = T(0);
    } else if (r == c) {
      at(R, b, c, c) = f;
      f = T(1);
    } else if (r < n) {
      at(R, b, r, c) = T(0);
    }
  }
}

template <typename T>
void launchQrUnpack(int64_t batch, Mat<T> F, Mat<T> R, cudaStream_t stream) {
  qr_unpack_kernel<T><<<blocksFor(batch * F.rows * F.cols, kQrUnpackBlock), kQrUnpackBlock, 0, stream>>>(
      batch, F, R);
  ORTHO_CUDA_CHECK_LAUNCH("qr_unpack_kernel");
}

template void launchQrUnpack<float>(int64_t, Mat<float>, Mat<float>, cudaStream_t);
template void launchQrUnpack<double>(int64_t, Mat<double>, Mat<double>, cudaStream_t);

}  // namespace ortho::cuda
