// A small GEMM for one thread block, on shared (or any) memory, and the
// loads and stores around it: the building blocks of the fused per-matrix
// kernels (device code only; include after common.cuh).
#pragma once

namespace ortho::cuda {

/// Outputs per thread: kTileGemmTile x kTileGemmTile.
constexpr int kTileGemmTile = 4;

/// Global loads each thread keeps in flight in loadTileBy.
constexpr int kLoadBatch = 8;

/// Matrix b of M into shared memory (row stride ld), by threads tid of
/// nthreads. Each thread issues kLoadBatch global loads into registers before
/// it stores any of them: a load-then-store loop waits out the full global
/// latency once per element, because the next load may not pass the store
/// (the compiler cannot rule out that M's generic pointer aliases the shared
/// array). At 32 x 32 with 64 threads that was 16 latencies per matrix; now 2.
template <typename T>
__device__ inline void loadTileBy(const Mat<const T>& M, int64_t b, T* s, int ld, int tid, int nthreads) {
  const int rows = static_cast<int>(M.rows), cols = static_cast<int>(M.cols), total = rows * cols;
  for (int e0 = tid; e0 < total; e0 += kLoadBatch * nthreads) {
    T v[kLoadBatch];
#pragma unroll
    for (int u = 0; u < kLoadBatch; ++u) {
      const int e = e0 + u * nthreads;
      if (e < total) v[u] = at(M, b, e / cols, e % cols);
    }
#pragma unroll
    for (int u = 0; u < kLoadBatch; ++u) {
      const int e = e0 + u * nthreads;
      if (e < total) s[(e / cols) * ld + e % cols] = v[u];
    }
  }
}

/// Matrix b of M into shared memory (row stride ld), by the whole block.
template <typename T>
__device__ inline void loadTile(const Mat<const T>& M, int64_t b, T* s, int ld) {
  loadTileBy(M, b, s, ld, static_cast<int>(threadIdx.x), static_cast<int>(blockDim.x));
}

/// The top-left M.rows x M.cols of shared memory (row stride ld) into matrix b of M.
template <typename T>
__device__ inline void storeTile(const T* s, int ld, const Mat<T>& M, int64_t b) {
  const int rows = static_cast<int>(M.rows), cols = static_cast<int>(M.cols);
  for (int e = threadIdx.x; e < rows * cols; e += blockDim.x) at(M, b, e / cols, e % cols) = s[(e / cols) * ld + e % cols];
}

/// Thread tiles for a P x Q output.
inline int64_t tileGemmTiles(int64_t P, int64_t Q) {
  return ((P + kTileGemmTile - 1) / kTileGemmTile) * ((Q + kTileGemmTile - 1) / kTileGemmTile);
}

/// Threads for a block of a per-matrix kernel with `work` units that run
/// in parallel (thread tiles, columns): whole warps, at least one, at most
/// maxThreads.
inline int tileBlockThreads(int64_t work, int maxThreads) {
  return static_cast<int>(std::min<int64_t>(maxThreads, std::max<int64_t>(32, (work + 31) / 32 * 32)));
}

/// Swaps two shared-memory buffers (the current and the next iterate).
template <typename T>
__device__ inline void swapBuffers(T*& a, T*& b) {
  T* t = a;
  a = b;
  b = t;
}

// C(p, q) = sum_r A(p, r) B(r, q) for P x Q outputs, A(p, r) = As[p * asp +
// r * asr], B(r, q) = Bs[r * bsr + q * bsq]; epi(p, q, value) stores.
// Thread tiles of kTileGemmTile x kTileGemmTile outputs, rows p0 + s * hp and
// columns q0 + s * hq (interleaved, so a warp reads neighbouring columns);
// each output sums over r in order (deterministic).
// Acc: the accumulation type (double gives float32 inputs extra accuracy).
template <typename T, typename Epi, typename Acc = T>
__device__ inline void tileGemm(int P, int Q, int R, const T* As, int asp, int asr, const T* Bs, int bsr, int bsq,
                                Epi epi) {
  const int hp = (P + kTileGemmTile - 1) / kTileGemmTile, hq = (Q + kTileGemmTile - 1) / kTileGemmTile;
  for (int tile = threadIdx.x; tile < hp * hq; tile += blockDim.x) {
    const int p0 = tile / hq, q0 = tile % hq;
    Acc acc[kTileGemmTile][kTileGemmTile];
#pragma unroll
    for (int i = 0; i < kTileGemmTile; ++i)
#pragma unroll
      for (int j = 0; j < kTileGemmTile; ++j) acc[i][j] = Acc(0);
    for (int r = 0; r < R; ++r) {
      Acc a[kTileGemmTile], b[kTileGemmTile];
#pragma unroll
      for (int s = 0; s < kTileGemmTile; ++s) {
        const int p = p0 + s * hp, q = q0 + s * hq;
        a[s] = p < P ? Acc(As[p * asp + r * asr]) : Acc(0);
        b[s] = q < Q ? Acc(Bs[r * bsr + q * bsq]) : Acc(0);
      }
#pragma unroll
      for (int i = 0; i < kTileGemmTile; ++i)
#pragma unroll
        for (int j = 0; j < kTileGemmTile; ++j) acc[i][j] += a[i] * b[j];
    }
#pragma unroll
    for (int i = 0; i < kTileGemmTile; ++i)
#pragma unroll
      for (int j = 0; j < kTileGemmTile; ++j) {
        const int p = p0 + i * hp, q = q0 + j * hq;
        if (p < P && q < Q) epi(p, q, acc[i][j]);
      }
  }
}

}  // namespace ortho::cuda
