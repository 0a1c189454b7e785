#include "common.cuh"
#include "power_iteration_fused.cuh"

namespace ortho::cuda {

constexpr int kPiBlock = 256;
constexpr int kPiWarps = kPiBlock / 32;
constexpr int64_t kPiMaxDim = 2048;         // u and v live in shared memory
constexpr int64_t kPiMaxElements = 16384;   // one block reads X 2 niter + 2 times: small matrices only

bool powerIterationFusedFits(int64_t m, int64_t n) { return m <= kPiMaxDim && n <= kPiMaxDim && m * n <= kPiMaxElements; }

// x <- x / (||x|| + 1e-8), the norm accumulated in double and rounded to T
// as the CPU backend's groupDot + scalarMap do.
template <typename T>
__device__ inline void l2Normalize(T* x, int64_t k, double* scratch) {
  double ss = 0;
  for (int64_t i = threadIdx.x; i < k; i += kPiBlock) ss += double(x[i]) * double(x[i]);
  const T inv = T(1) / (sqrt(static_cast<T>(blockSum(ss, scratch))) + T(1e-8));
  for (int64_t i = threadIdx.x; i < k; i += kPiBlock) x[i] *= inv;
  __syncthreads();
}

// One warp per row: (X w)_i with lanes striding the row (coalesced).
template <typename T>
__device__ inline T rowDot(const T* x, int64_t ld, int64_t i, int64_t n, const T* w) {
  T s = T(0);
  for (int64_t j = threadIdx.x & 31; j < n; j += 32) s += x[i * ld + j] * w[j];
  return warpSum(s);
}

template <typename T>
static __global__ void power_iteration_fused_kernel(int64_t batch, Mat<const T> X, T* u, T* v, int niter, T eps,
                                                    T* coef, T* Y) {
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ double scratch[kPiWarps];
  const int64_t m = X.rows, n = X.cols, ld = X.ld;
  T* su = reinterpret_cast<T*>(smem);
  T* sv = su + m;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  for (int64_t b = blockIdx.x; b < batch; b += gridDim.x) {
    const T* x = X.data + b * X.stride;
    for (int64_t i = threadIdx.x; i < m; i += kPiBlock) su[i] = u[b * m + i];
    for (int64_t j = threadIdx.x; j < n; j += kPiBlock) sv[j] = v[b * n + j];
    __syncthreads();
    for (int it = 0; it < niter; ++it) {
      for (int64_t j = threadIdx.x; j < n; j += kPiBlock) {  // v = X^T u, one thread per column
        T s = T(0);
        for (int64_t i = 0; i < m; ++i) s += x[i * ld + j] * su[i];
        sv[j] = s;
      }
      __syncthreads();
      l2Normalize(sv, n, scratch);
      for (int64_t i = warp; i < m; i += kPiWarps) {  // u = X v
        const T s = rowDot(x, ld, i, n, sv);
        if (lane == 0) su[i] = s;
      }
      __syncthreads();
      l2Normalize(su, m, scratch);
    }
    double part = 0;  // u^T (X v), the products rounded to T as a GEMM output would be
    for (int64_t i = warp; i < m; i += kPiWarps) {
      const T s = rowDot(x, ld, i, n, sv);
      if (lane == 0) part += double(su[i]) * double(s);
    }
    const T c = T(1) / (static_cast<T>(blockSum(part, scratch)) + eps);
    if (threadIdx.x == 0) coef[b] = c;
    for (int64_t i = threadIdx.x; i < m; i += kPiBlock) u[b * m + i] = su[i];
    for (int64_t j = threadIdx.x; j < n; j += kPiBlock) v[b * n + j] = sv[j];
    T* y = Y + b * m * n;
    for (int64_t e = threadIdx.x; e < m * n; e += kPiBlock) y[e] = c * x[(e / n) * ld + e % n];
    __syncthreads();  // su, sv are reloaded for the next matrix
  }
}

template <typename T>
void launchPowerIterationFused(int64_t batch, Mat<const T> X, T* u, T* v, int niter, T eps, T* coef, T* Y,
                               cudaStream_t stream) {
  const std::size_t smem = static_cast<std::size_t>(X.rows + X.cols) * sizeof(T);
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(batch, kMaxBlocks));
  power_iteration_fused_kernel<T><<<blocks, kPiBlock, smem, stream>>>(batch, X, u, v, niter, eps, coef, Y);
  ORTHO_CUDA_CHECK_LAUNCH("power_iteration_fused_kernel");
}

template void launchPowerIterationFused<float>(int64_t, Mat<const float>, float*, float*, int, float, float*, float*,
                                               cudaStream_t);
template void launchPowerIterationFused<double>(int64_t, Mat<const double>, double*, double*, int, double, double*,
                                                double*, cudaStream_t);

}  // namespace ortho::cuda
