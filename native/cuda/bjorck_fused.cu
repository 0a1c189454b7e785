#include "bjorck_fused.cuh"
#include "common.cuh"
#include "tile_gemm.cuh"

namespace ortho::cuda {

constexpr int kBjorckMaxBlock = 256;
constexpr std::size_t kBjorckMaxSmem = 48 * 1024;  // no opt-in needed below this
constexpr int64_t kBjorckMaxK = 64;                // min(m, n)

// Shared-memory footprint: w and the next w (m x (n + 1), padded rows
// against bank conflicts) and M ((k x (k + 1)).
template <typename T>
std::size_t bjorckSmem(int64_t m, int64_t n) {
  const int64_t k = std::min(m, n);
  return static_cast<std::size_t>(2 * m * (n + 1) + k * (k + 1)) * sizeof(T);
}

template <typename T>
bool bjorckFusedFits(int64_t m, int64_t n) {
  return std::min(m, n) <= kBjorckMaxK && bjorckSmem<T>(m, n) <= kBjorckMaxSmem;
}

template <typename T>
static __global__ void bjorck_fused_kernel(int64_t batch, Mat<const T> X, Mat<T> Y, int steps, T beta) {
  extern __shared__ __align__(16) unsigned char smem[];
  const int m = static_cast<int>(X.rows), n = static_cast<int>(X.cols), k = m < n ? m : n;
  const int ldw = n + 1, ldm = k + 1;
  const bool tall = m >= n;
  const T negBeta = -beta, diag = T(1) + beta;
  for (int64_t b = blockIdx.x; b < batch; b += gridDim.x) {
    T* w = reinterpret_cast<T*>(smem);
    T* w2 = w + m * ldw;
    T* M = w2 + m * ldw;
    loadTile(X, b, w, ldw);
    __syncthreads();
    for (int s = 0; s < steps; ++s) {
      // M = (1 + beta) I - beta G, G = w^T w (tall) or w w^T (wide): the
      // order of the plain path (syrk with alpha = -beta, then addDiagonal).
      auto storeM = [&](int p, int q, T g) {
        T val = negBeta * g;
        if (p == q) val += diag;
        M[p * ldm + q] = val;
      };
      if (tall)
        tileGemm<T>(k, k, m, w, 1, ldw, w, ldw, 1, storeM);
      else
        tileGemm<T>(k, k, n, w, ldw, 1, w, 1, ldw, storeM);
      __syncthreads();
      auto storeW = [&](int p, int q, T val) { w2[p * ldw + q] = val; };
      if (tall)
        tileGemm<T>(m, n, k, w, ldw, 1, M, ldm, 1, storeW);  // w M
      else
        tileGemm<T>(m, n, k, M, ldm, 1, w, ldw, 1, storeW);  // M w
      __syncthreads();
      T* t = w;
      w = w2;
      w2 = t;
    }
    storeTile(w, ldw, Y, b);
    __syncthreads();  // shared memory is reloaded for the next matrix
  }
}

template <typename T>
void launchBjorckFused(int64_t batch, Mat<const T> X, Mat<T> Y, int steps, T beta, cudaStream_t stream) {
  const int64_t m = X.rows, n = X.cols, k = std::min(m, n);
  const int64_t work = std::max(tileGemmTiles(k, k), tileGemmTiles(m, n));
  const int threads = static_cast<int>(std::min<int64_t>(kBjorckMaxBlock, std::max<int64_t>(32, (work + 31) / 32 * 32)));
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(batch, kMaxBlocks));
  bjorck_fused_kernel<T><<<blocks, threads, bjorckSmem<T>(m, n), stream>>>(batch, X, Y, steps, beta);
  ORTHO_CUDA_CHECK_LAUNCH("bjorck_fused_kernel");
}

template bool bjorckFusedFits<float>(int64_t, int64_t);
template bool bjorckFusedFits<double>(int64_t, int64_t);
template void launchBjorckFused<float>(int64_t, Mat<const float>, Mat<float>, int, float, cudaStream_t);
template void launchBjorckFused<double>(int64_t, Mat<const double>, Mat<double>, int, double, cudaStream_t);

}  // namespace ortho::cuda
