#include "common.cuh"
#include "exponential_fused.cuh"
#include "tile_gemm.cuh"

namespace ortho::cuda {

constexpr int64_t kExpMaxD = 64;
constexpr int kExpMaxBlock = 256;

// A, H and the next H, each D x (D + 1) (padded rows).
template <typename T>
std::size_t exponentialSmem(int64_t D) {
  return static_cast<std::size_t>(3 * D * (D + 1)) * sizeof(T);
}

template <typename T>
bool exponentialFusedFits(int64_t m, int64_t n) {
  const int64_t D = std::max(m, n);
  return D <= kExpMaxD && exponentialSmem<T>(D) <= kMaxDefaultSmem;
}

template <typename T>
static __global__ void exponential_fused_kernel(int64_t batch, Mat<const T> X, Mat<T> Y, int K) {
  extern __shared__ __align__(16) unsigned char smem[];
  const int m = static_cast<int>(X.rows), n = static_cast<int>(X.cols), D = m > n ? m : n, ld = D + 1;
  for (int64_t b = blockIdx.x; b < batch; b += gridDim.x) {
    T* a = reinterpret_cast<T*>(smem);
    T* h = a + D * ld;
    T* h2 = h + D * ld;
    // A = 0.5 P - 0.5 P^T and H_{K-1} = A / (K - 1) + I, in the plain path's order.
    const T scale = static_cast<T>(1.0 / (K - 1));
    for (int e = threadIdx.x; e < D * D; e += blockDim.x) {
      const int i = e / D, j = e % D;
      const T pij = i < m && j < n ? at(X, b, i, j) : T(0);
      const T pji = j < m && i < n ? at(X, b, j, i) : T(0);
      const T v = T(0.5) * pij + T(-0.5) * pji;
      a[i * ld + j] = v;
      h[i * ld + j] = i == j ? scale * v + T(1) : scale * v;
    }
    __syncthreads();
    for (int j = K - 2; j >= 1; --j) {
      const T inv = static_cast<T>(1.0 / j);
      tileGemm<T>(D, D, D, a, ld, 1, h, ld, 1, [&](int p, int q, T v) { h2[p * ld + q] = p == q ? inv * v + T(1) : inv * v; });
      __syncthreads();
      swapBuffers(h, h2);
    }
    storeTile(h, ld, Y, b);
    __syncthreads();  // shared memory is reloaded for the next matrix
  }
}

template <typename T>
void launchExponentialFused(int64_t batch, Mat<const T> X, Mat<T> Y, int K, cudaStream_t stream) {
  const int64_t D = std::max(X.rows, X.cols);
  const int threads = tileBlockThreads(tileGemmTiles(D, D), kExpMaxBlock);
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(batch, kMaxBlocks));
  exponential_fused_kernel<T><<<blocks, threads, exponentialSmem<T>(D), stream>>>(batch, X, Y, K);
  ORTHO_CUDA_CHECK_LAUNCH("exponential_fused_kernel");
}

template bool exponentialFusedFits<float>(int64_t, int64_t);
template bool exponentialFusedFits<double>(int64_t, int64_t);
template void launchExponentialFused<float>(int64_t, Mat<const float>, Mat<float>, int, cudaStream_t);
template void launchExponentialFused<double>(int64_t, Mat<const double>, Mat<double>, int, cudaStream_t);

}  // namespace ortho::cuda
