#include "common.cuh"
#include "power_iteration_fused.cuh"
#include "tile_gemm.cuh"

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

// ---------------------------------------------------------------------------
// m, n <= 32: one warp per matrix, several matrices per block. The block
// kernel above leaves most of its 256 threads idle on such a matrix (one
// thread per column, eight warps for 32 rows) and pays two block barriers
// and two block sums per iteration; on the H100 at [4096, 32, 32] it took
// 0.146 ms over a call that does no work, for 3 iterations (H100 run of
// commit 31de833, bench/gpu/). Here the warp loads X into shared memory once; lane j
// forms v_j (column j) and lane i forms u_i (row i), the other vector's
// entries passed by shuffles; the norms are warp sums. Same arithmetic as
// the block kernel: products and sums in T, squared norms and u^T X v in
// double; only u = X v sums a row in order instead of by a lane tree.
constexpr int64_t kPiWarpMaxDim = 32;
constexpr int kPiWarpMaxWarps = 8;

// x / (||x|| + 1e-8) over the warp's lanes (each holds one entry; unused lanes 0).
template <typename T>
__device__ inline T warpL2Normalize(T x) {
  const double ss = __shfl_sync(0xffffffffu, warpSum(double(x) * double(x)), 0);
  return x * (T(1) / (sqrt(static_cast<T>(ss)) + T(1e-8)));
}

// (X w)_lane for lane < m (row `lane` of the tile times w, w_j held by lane j), else 0.
template <typename T>
__device__ inline T warpRowTimes(const T* t, int ldt, int m, int n, T w, int lane) {
  T s = T(0);
  for (int j = 0; j < n; ++j) {
    const T wj = __shfl_sync(0xffffffffu, w, j);
    if (lane < m) s += t[lane * ldt + j] * wj;
  }
  return s;
}

template <typename T>
static __global__ void power_iteration_warp_kernel(int64_t batch, Mat<const T> X, T* u, T* v, int niter, T eps,
                                                   T* coef, T* Y) {
  extern __shared__ __align__(16) unsigned char smem[];
  const int m = static_cast<int>(X.rows), n = static_cast<int>(X.cols), ldt = n + 1;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  T* t = reinterpret_cast<T*>(smem) + static_cast<int64_t>(warp) * m * ldt;
  for (int64_t b = int64_t(blockIdx.x) * warps + warp; b < batch; b += int64_t(gridDim.x) * warps) {
    loadTileBy(X, b, t, ldt, lane, 32);
    T ui = lane < m ? u[b * m + lane] : T(0);
    T vj = lane < n ? v[b * n + lane] : T(0);
    __syncwarp();
    for (int it = 0; it < niter; ++it) {
      T s = T(0);  // v = X^T u: lane j sums column j
      for (int i = 0; i < m; ++i) {
        const T uk = __shfl_sync(0xffffffffu, ui, i);
        if (lane < n) s += t[i * ldt + lane] * uk;
      }
      vj = warpL2Normalize(s);
      ui = warpL2Normalize(warpRowTimes(t, ldt, m, n, vj, lane));  // u = X v
    }
    const T xv = warpRowTimes(t, ldt, m, n, vj, lane);  // u^T (X v), the products rounded to T
    const double total = __shfl_sync(0xffffffffu, warpSum(double(ui) * double(xv)), 0);
    const T c = T(1) / (static_cast<T>(total) + eps);
    if (lane == 0) coef[b] = c;
    if (lane < m) u[b * m + lane] = ui;
    if (lane < n) v[b * n + lane] = vj;
    T* y = Y + b * m * n;
    if (lane < n)
      for (int i = 0; i < m; ++i) y[i * n + lane] = c * t[i * ldt + lane];
    __syncwarp();  // the tile is reloaded for the warp's next matrix
  }
}

template <typename T>
void launchPowerIterationFused(int64_t batch, Mat<const T> X, T* u, T* v, int niter, T eps, T* coef, T* Y,
                               cudaStream_t stream) {
  const int64_t m = X.rows, n = X.cols;
  if (m <= kPiWarpMaxDim && n <= kPiWarpMaxDim) {
    const std::size_t perWarp = static_cast<std::size_t>(m * (n + 1)) * sizeof(T);
    const WarpGrid g = warpPerMatrixGrid(batch, kPiWarpMaxWarps, perWarp);
    power_iteration_warp_kernel<T><<<g.blocks, 32 * g.warps, perWarp * g.warps, stream>>>(batch, X, u, v, niter, eps,
                                                                                           coef, Y);
    ORTHO_CUDA_CHECK_LAUNCH("power_iteration_warp_kernel");
    return;
  }
  const std::size_t smem = static_cast<std::size_t>(m + n) * sizeof(T);
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(batch, kMaxBlocks));
  power_iteration_fused_kernel<T><<<blocks, kPiBlock, smem, stream>>>(batch, X, u, v, niter, eps, coef, Y);
  ORTHO_CUDA_CHECK_LAUNCH("power_iteration_fused_kernel");
}

template void launchPowerIterationFused<float>(int64_t, Mat<const float>, float*, float*, int, float, float*, float*,
                                               cudaStream_t);
template void launchPowerIterationFused<double>(int64_t, Mat<const double>, double*, double*, int, double, double*,
                                                double*, cudaStream_t);

}  // namespace ortho::cuda
