#include "cholesky_fused.cuh"
#include "common.cuh"
#include "tile_gemm.cuh"

namespace ortho::cuda {

constexpr int64_t kCholeskyMaxM = 32;  // one row per lane
constexpr int kCholeskyMaxWarps = 4;   // matrices per block

// Per warp: X (m x (n + 1), padded against bank conflicts), then L (m x (m + 1)).
template <typename T>
std::size_t choleskyWarpSmem(int64_t m, int64_t n) {
  return static_cast<std::size_t>(m * (n + 1) + m * (m + 1)) * sizeof(T);
}

template <typename T>
bool choleskyFusedFits(int64_t m, int64_t n) {
  return m <= kCholeskyMaxM && choleskyWarpSmem<T>(m, n) <= kMaxDefaultSmem;
}

// One warp per matrix, no block-wide barrier: lane i keeps row i of
// S = X X^T + shift I in registers (fully unrolled loops, so the row is
// indexed by constants), factors it right-looking with the pivot column
// passed between lanes by shuffles, then solves W = L^{-1} X with one column
// of X per lane. The earlier kernel (one matrix per block, left-looking,
// lane 0 alone computing each diagonal entry between two block barriers) had
// a critical path of about 2 m block barriers and m^2 dependent FMAs per
// matrix.
// Arithmetic in T throughout, as the plain path (syrk, addDiagonal, potrf
// and trsm in T; PyTorch too). The previous version accumulated and
// factored in double: for float32 that is about 2,000 float-to-double
// conversions per lane per matrix (each operand of the Gram and of the
// solve), a low-throughput instruction, and double FMAs and shuffles (two
// per value). It measured 0.58x PyTorch's time on the H100 where the target
// is 0.5x (bench/RESULTS.md); bench/RESULTS.md has the latest GPU timing.
template <typename T>
static __global__ void cholesky_fused_kernel(int64_t batch, Mat<const T> X, T shift, Mat<T> L, Mat<T> W, int* info) {
  extern __shared__ __align__(16) unsigned char smem[];
  const int m = static_cast<int>(X.rows), n = static_cast<int>(X.cols);
  const int ldx = n + 1, ldl = m + 1;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  T* x = reinterpret_cast<T*>(smem) + static_cast<int64_t>(warp) * (m * ldx + m * ldl);
  T* l = x + m * ldx;
  for (int64_t b = int64_t(blockIdx.x) * warps + warp; b < batch; b += int64_t(gridDim.x) * warps) {
    loadTileBy(X, b, x, ldx, lane, 32);
    __syncwarp();
    // Row `lane` of S (lanes past m keep zeros and take part in the shuffles).
    T s[kCholeskyMaxM];
#pragma unroll
    for (int k = 0; k < kCholeskyMaxM; ++k) s[k] = T(0);
    if (lane < m) {
      for (int r = 0; r < n; ++r) {
        const T xi = x[lane * ldx + r];
#pragma unroll
        for (int k = 0; k < kCholeskyMaxM; ++k)
          if (k < m) s[k] += xi * x[k * ldx + r];  // x[k][r]: the same address on every lane
      }
    }
#pragma unroll
    for (int k = 0; k < kCholeskyMaxM; ++k)
      if (k == lane) s[k] += shift;
    // Right-looking Cholesky: column j of L from lane j's diagonal, then the
    // trailing rank-1 update of every lane's row.
    int failed = 0;
#pragma unroll
    for (int j = 0; j < kCholeskyMaxM; ++j) {
      if (j < m && !failed) {
        const T d = __shfl_sync(0xffffffffu, s[j], j);  // S(j, j), updated
        if (!(d > T(0)) || !isfinite(d)) {  // not positive, or S overflowed T (as potrf's contract)
          failed = j + 1;  // the order of the leading minor that fails, as potrf; uniform over the warp
        } else {
          const T ljj = sqrt(d);
          s[j] = lane == j ? ljj : s[j] / ljj;  // rows below j: L(i, j); rows above: unused
#pragma unroll
          for (int k = j + 1; k < kCholeskyMaxM; ++k)
            if (k < m) {
              const T lkj = __shfl_sync(0xffffffffu, s[j], k);  // L(k, j)
              if (lane >= k) s[k] -= s[j] * lkj;
            }
        }
      }
    }
    if (lane == 0) info[b] = failed;
    if (!failed) {
      if (lane < m) {
#pragma unroll
        for (int k = 0; k < kCholeskyMaxM; ++k)
          if (k < m) l[lane * ldl + k] = k <= lane ? s[k] : T(0);
      }
      __syncwarp();
      // W = L^{-1} X by forward substitution, one column of X per lane, the
      // solved column kept in registers (the loops unrolled over the fixed
      // bound, so every read of L is an independent broadcast load and only
      // the FMAs of one row form a chain) and written straight to W,
      // coalesced across the lanes. (Solving in shared memory with loops of
      // run-time length waited out a shared-memory load for each of the
      // m(m-1)/2 FMAs.)
      for (int c0 = 0; c0 < n; c0 += 32) {
        const int c = c0 + lane;
        T col[kCholeskyMaxM];
#pragma unroll
        for (int i = 0; i < kCholeskyMaxM; ++i) {
          if (i < m) {
            T v = c < n ? x[i * ldx + c] : T(0);
#pragma unroll
            for (int p = 0; p < i; ++p) v -= l[i * ldl + p] * col[p];
            col[i] = v / l[i * ldl + i];
            if (c < n) at(W, b, i, c) = col[i];
          }
        }
      }
      for (int e = lane; e < m * m; e += 32) at(L, b, e / m, e % m) = l[(e / m) * ldl + e % m];
    }
    __syncwarp();  // shared memory is reused for the warp's next matrix
  }
}

template <typename T>
void launchCholeskyFused(int64_t batch, Mat<const T> X, T shift, Mat<T> L, Mat<T> W, int* info, cudaStream_t stream) {
  const int64_t m = X.rows, n = X.cols;
  const std::size_t perWarp = choleskyWarpSmem<T>(m, n);
  const WarpGrid g = warpPerMatrixGrid(batch, kCholeskyMaxWarps, perWarp);
  cholesky_fused_kernel<T><<<g.blocks, 32 * g.warps, perWarp * g.warps, stream>>>(batch, X, shift, L, W, info);
  ORTHO_CUDA_CHECK_LAUNCH("cholesky_fused_kernel");
}

// ---------------------------------------------------------------------------
// Backward, one block per matrix (m <= 32), every operand in shared memory:
// the sequence of ops/cholesky.cpp's backward in one launch instead of
// batched triangular solves, GEMMs and triangle passes (cuBLAS's batched
// trsm is slow on many tiny matrices):
//   gB = L^{-T} G;  A = tril(-gB W^T);  P = Phi(L^T A) (lower mirrored);
//   P = L^{-T} P;  stable: P = P L^{-1}, dX = gB + P X;  else dX = gB + P W.
// Triangular solves: one right-hand side per thread, sums in double.

// L, A and P (m x (m + 1) each), gB and W-then-X (m x (n + 1) each).
template <typename T>
std::size_t choleskyBackwardSmem(int64_t m, int64_t n) {
  return static_cast<std::size_t>(3 * m * (m + 1) + 2 * m * (n + 1)) * sizeof(T);
}

template <typename T>
bool choleskyBackwardFusedFits(int64_t m, int64_t n) {
  return m <= kCholeskyMaxM && choleskyBackwardSmem<T>(m, n) <= kMaxDefaultSmem;
}

// B (m x cols, row stride ldb) = L^{-T} B, one column per thread.
template <typename T>
__device__ inline void solveLowerTransposed(int m, int cols, const T* l, int ldl, T* B, int ldb) {
  for (int c = threadIdx.x; c < cols; c += blockDim.x)
    for (int i = m - 1; i >= 0; --i) {
      double v = B[i * ldb + c];
      for (int p = i + 1; p < m; ++p) v -= double(l[p * ldl + i]) * double(B[p * ldb + c]);
      B[i * ldb + c] = static_cast<T>(v) / l[i * ldl + i];
    }
}

template <typename T>
static __global__ void cholesky_backward_fused_kernel(int64_t batch, Mat<const T> L, Mat<const T> W, Mat<const T> X,
                                                      bool stable, Mat<const T> G, Mat<T> dX) {
  extern __shared__ __align__(16) unsigned char smem[];
  const int m = static_cast<int>(G.rows), n = static_cast<int>(G.cols);
  const int ldl = m + 1, ldg = n + 1;
  T* l = reinterpret_cast<T*>(smem);
  T* a = l + m * ldl;
  T* pm = a + m * ldl;
  T* gb = pm + m * ldl;
  T* w = gb + m * ldg;  // W, then (stable) X
  for (int64_t b = blockIdx.x; b < batch; b += gridDim.x) {
    loadTile(L, b, l, ldl);
    loadTile(G, b, gb, ldg);
    loadTile(W, b, w, ldg);
    __syncthreads();
    solveLowerTransposed(m, n, l, ldl, gb, ldg);  // gB = L^{-T} G
    __syncthreads();
    auto storeA = [&](int p, int q, T v) { a[p * ldl + q] = q <= p ? -v : T(0); };
    tileGemm<T>(m, m, n, gb, ldg, 1, w, 1, ldg, storeA);  // A = tril(-gB W^T)
    __syncthreads();
    // P = L^T A, its lower triangle mirrored: the thread of (p, q), p >= q,
    // writes both places; the threads of the strict upper outputs write none.
    auto storeP = [&](int p, int q, T v) {
      if (q <= p) {
        pm[p * ldl + q] = v;
        pm[q * ldl + p] = v;
      }
    };
    tileGemm<T>(m, m, m, l, 1, ldl, a, ldl, 1, storeP);
    __syncthreads();
    solveLowerTransposed(m, m, l, ldl, pm, ldl);  // P = L^{-T} P
    __syncthreads();
    if (stable) {
      // P = P L^{-1}: row r of P solves z L = p_r, one row per thread.
      for (int r = threadIdx.x; r < m; r += blockDim.x)
        for (int j = m - 1; j >= 0; --j) {
          double v = pm[r * ldl + j];
          for (int q = j + 1; q < m; ++q) v -= double(pm[r * ldl + q]) * double(l[q * ldl + j]);
          pm[r * ldl + j] = static_cast<T>(v) / l[j * ldl + j];
        }
      loadTile(X, b, w, ldg);  // W is no longer read
      __syncthreads();
    }
    // dX = gB + P W (or P X), written straight out.
    auto storeOut = [&](int p, int q, T v) { at(dX, b, p, q) = gb[p * ldg + q] + v; };
    tileGemm<T>(m, n, m, pm, ldl, 1, w, ldg, 1, storeOut);
    __syncthreads();  // shared memory is reloaded for the next matrix
  }
}

template <typename T>
void launchCholeskyBackwardFused(int64_t batch, Mat<const T> L, Mat<const T> W, Mat<const T> X, Mat<const T> G,
                                 Mat<T> dX, cudaStream_t stream) {
  const int64_t m = G.rows, n = G.cols;
  const int threads = tileBlockThreads(std::max({tileGemmTiles(m, n), tileGemmTiles(m, m), n, m}), 256);
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(batch, kMaxBlocks));
  cholesky_backward_fused_kernel<T><<<blocks, threads, choleskyBackwardSmem<T>(m, n), stream>>>(
      batch, L, W, X, X.data != nullptr, G, dX);
  ORTHO_CUDA_CHECK_LAUNCH("cholesky_backward_fused_kernel");
}

template bool choleskyFusedFits<float>(int64_t, int64_t);
template bool choleskyFusedFits<double>(int64_t, int64_t);
template void launchCholeskyFused<float>(int64_t, Mat<const float>, float, Mat<float>, Mat<float>, int*, cudaStream_t);
template void launchCholeskyFused<double>(int64_t, Mat<const double>, double, Mat<double>, Mat<double>, int*,
                                          cudaStream_t);
template bool choleskyBackwardFusedFits<float>(int64_t, int64_t);
template bool choleskyBackwardFusedFits<double>(int64_t, int64_t);
template void launchCholeskyBackwardFused<float>(int64_t, Mat<const float>, Mat<const float>, Mat<const float>,
                                                 Mat<const float>, Mat<float>, cudaStream_t);
template void launchCholeskyBackwardFused<double>(int64_t, Mat<const double>, Mat<const double>, Mat<const double>,
                                                  Mat<const double>, Mat<double>, cudaStream_t);

}  // namespace ortho::cuda
