#include "common.cuh"
#include "qr_sign_fix.cuh"

namespace ortho::cuda {

constexpr int kSignFixBlock = 256;

template <typename T>
__device__ inline T signOf(T d) {
  return d > T(0) ? T(1) : (d < T(0) ? T(-1) : T(0));
}

// Q(i, j) *= sign(R(j, j)); reads R's diagonal, which the next kernel changes.
template <typename T>
static __global__ void qr_sign_fix_q_kernel(int64_t batch, Mat<T> Q, Mat<const T> R) {
  const int64_t per = Q.rows * Q.cols, total = batch * per;
  for (int64_t t = globalThread(); t < total; t += gridThreads()) {
    const int64_t b = t / per, r = t % per, i = r / Q.cols, j = r % Q.cols;
    const T s = signOf(at(R, b, j, j));
    if (s != T(1)) at(Q, b, i, j) *= s;
  }
}

// Row j of R times sign(R(j, j)), off the diagonal: one thread per element,
// consecutive threads on consecutive columns (coalesced). The diagonal, which
// every thread of row j reads, is left to the next kernel.
template <typename T>
static __global__ void qr_sign_fix_r_kernel(int64_t batch, Mat<T> R) {
  const int64_t per = R.rows * R.cols, total = batch * per;
  for (int64_t t = globalThread(); t < total; t += gridThreads()) {
    const int64_t b = t / per, r = t % per, j = r / R.cols, k = r % R.cols;
    if (k == j) continue;
    const T s = signOf(at(R, b, j, j));
    if (s != T(1)) at(R, b, j, k) *= s;
  }
}

// R(j, j) *= sign(R(j, j)): each thread reads and writes its own element.
template <typename T>
static __global__ void qr_sign_fix_diagonal_kernel(int64_t batch, Mat<T> R) {
  const int64_t n = R.rows, total = batch * n;
  for (int64_t t = globalThread(); t < total; t += gridThreads()) {
    T& d = at(R, t / n, t % n, t % n);
    d *= signOf(d);
  }
}

// Three launches in stream order: Q and R's off-diagonal elements both read
// the diagonal before the last kernel changes it. Every kernel has one
// thread per element, so large single matrices use the whole GPU.
template <typename T>
void launchQrSignFix(int64_t batch, Mat<T> Q, Mat<T> R, cudaStream_t stream) {
  qr_sign_fix_q_kernel<T><<<blocksFor(batch * Q.rows * Q.cols, kSignFixBlock), kSignFixBlock, 0, stream>>>(batch, Q, R);
  ORTHO_CUDA_CHECK_LAUNCH("qr_sign_fix_q_kernel");
  qr_sign_fix_r_kernel<T><<<blocksFor(batch * R.rows * R.cols, kSignFixBlock), kSignFixBlock, 0, stream>>>(batch, R);
  ORTHO_CUDA_CHECK_LAUNCH("qr_sign_fix_r_kernel");
  qr_sign_fix_diagonal_kernel<T><<<blocksFor(batch * R.rows, kSignFixBlock), kSignFixBlock, 0, stream>>>(batch, R);
  ORTHO_CUDA_CHECK_LAUNCH("qr_sign_fix_diagonal_kernel");
}

template void launchQrSignFix<float>(int64_t, Mat<float>, Mat<float>, cudaStream_t);
template void launchQrSignFix<double>(int64_t, Mat<double>, Mat<double>, cudaStream_t);

}  // namespace ortho::cuda
