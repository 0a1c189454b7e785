#include "cholesky_fused.cuh"
#include "common.cuh"
#include "tile_gemm.cuh"

namespace ortho::cuda {

constexpr int64_t kCholeskyMaxM = 32;
constexpr int kCholeskyMaxBlock = 256;
constexpr std::size_t kCholeskyMaxSmem = 48 * 1024;

// X (m x (n + 1), padded) and S/L (m x (m + 1)) in shared memory.
template <typename T>
std::size_t choleskySmem(int64_t m, int64_t n) {
  return static_cast<std::size_t>(m * (n + 1) + m * (m + 1)) * sizeof(T);
}

template <typename T>
bool choleskyFusedFits(int64_t m, int64_t n) {
  return m <= kCholeskyMaxM && choleskySmem<T>(m, n) <= kCholeskyMaxSmem;
}

template <typename T>
static __global__ void cholesky_fused_kernel(int64_t batch, Mat<const T> X, T shift, Mat<T> L, Mat<T> W, int* info) {
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ int failed;
  const int m = static_cast<int>(X.rows), n = static_cast<int>(X.cols);
  const int ldx = n + 1, lds = m + 1;
  T* x = reinterpret_cast<T*>(smem);
  T* s = x + m * ldx;
  for (int64_t b = blockIdx.x; b < batch; b += gridDim.x) {
    loadTile(X, b, x, ldx);
    if (threadIdx.x == 0) failed = 0;
    __syncthreads();
    // S = X X^T, then + shift on the diagonal (the plain path's order). Sums
    // run in double: the Cholesky of a nearly singular S (tall X) amplifies
    // float32 rounding, and this costs little at m <= 32.
    auto storeS = [&](int p, int q, double v) { s[p * lds + q] = p == q ? static_cast<T>(v) + shift : static_cast<T>(v); };
    tileGemm<T, decltype(storeS), double>(m, m, n, x, ldx, 1, x, 1, ldx, storeS);
    __syncthreads();
    // Left-looking Cholesky in the lower triangle of s, one column at a time.
    for (int j = 0; j < m; ++j) {
      if (threadIdx.x == 0) {
        double d = s[j * lds + j];
        for (int p = 0; p < j; ++p) d -= double(s[j * lds + p]) * double(s[j * lds + p]);
        const T dt = static_cast<T>(d);
        if (!(dt > T(0))) {
          failed = j + 1;  // the order of the leading minor that fails, as potrf
        } else {
          s[j * lds + j] = sqrt(dt);
        }
      }
      __syncthreads();
      if (failed) break;  // uniform: every thread read the same shared flag
      for (int i = j + 1 + threadIdx.x; i < m; i += blockDim.x) {
        double v = s[i * lds + j];
        for (int p = 0; p < j; ++p) v -= double(s[i * lds + p]) * double(s[j * lds + p]);
        s[i * lds + j] = static_cast<T>(v) / s[j * lds + j];
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) info[b] = failed;
    if (!failed) {
      // W = L^{-1} X by forward substitution, one column of X per thread, in place.
      for (int c = threadIdx.x; c < n; c += blockDim.x)
        for (int i = 0; i < m; ++i) {
          double v = x[i * ldx + c];
          for (int p = 0; p < i; ++p) v -= double(s[i * lds + p]) * double(x[p * ldx + c]);
          x[i * ldx + c] = static_cast<T>(v) / s[i * lds + i];
        }
      __syncthreads();
      storeTile(x, ldx, W, b);
      for (int e = threadIdx.x; e < m * m; e += blockDim.x) {
        const int i = e / m, j = e % m;
        at(L, b, i, j) = j <= i ? s[i * lds + j] : T(0);
      }
    }
    __syncthreads();  // shared memory and `failed` are reused for the next matrix
  }
}

template <typename T>
void launchCholeskyFused(int64_t batch, Mat<const T> X, T shift, Mat<T> L, Mat<T> W, int* info, cudaStream_t stream) {
  const int64_t m = X.rows, n = X.cols;
  const int64_t work = std::max(tileGemmTiles(m, m), n);
  const int threads = static_cast<int>(std::min<int64_t>(kCholeskyMaxBlock, std::max<int64_t>(32, (work + 31) / 32 * 32)));
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(batch, kMaxBlocks));
  cholesky_fused_kernel<T><<<blocks, threads, choleskySmem<T>(m, n), stream>>>(batch, X, shift, L, W, info);
  ORTHO_CUDA_CHECK_LAUNCH("cholesky_fused_kernel");
}

template bool choleskyFusedFits<float>(int64_t, int64_t);
template bool choleskyFusedFits<double>(int64_t, int64_t);
template void launchCholeskyFused<float>(int64_t, Mat<const float>, float, Mat<float>, Mat<float>, int*, cudaStream_t);
template void launchCholeskyFused<double>(int64_t, Mat<const double>, double, Mat<double>, Mat<double>, int*,
                                          cudaStream_t);

}  // namespace ortho::cuda
