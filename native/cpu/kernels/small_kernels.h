// Register-blocked products for small matrices (the CPU backend's path for
// every dimension <= kSmallDim). Why: Eigen's general GEMM packs both
// operands and sets up cache blocking on each call; at 32 x 32 that costs
// more than the product itself, and a batch of 4096 such products is the
// whole of a Björck step. Written with GCC/Clang vector extensions (one
// AVX register with FMA in the v3 and v4 libraries, one SSE or NEON register
// in the baseline, v2 and arm64 ones); other compilers keep Eigen
// (ORTHO_SMALL_KERNELS is 0).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define ORTHO_SMALL_KERNELS 1
#else
#define ORTHO_SMALL_KERNELS 0
#endif

namespace ortho::cpu {

/// Largest dimension (rows, columns, depth) handled by the small kernels.
inline constexpr int64_t kSmallDim = 64;

#if ORTHO_SMALL_KERNELS

// One vector register: 32 bytes with AVX; 16 (SSE2, NEON) without it, where
// a 32-byte vector type would be lowered to scalar code.
#if defined(__AVX__)
#define ORTHO_VEC_BYTES 32
#else
#define ORTHO_VEC_BYTES 16
#endif

template <typename T>
struct Vec {
  typedef T type __attribute__((vector_size(ORTHO_VEC_BYTES)));
  static constexpr int width = ORTHO_VEC_BYTES / sizeof(T);
};

template <typename T>
inline typename Vec<T>::type loadVec(const T* p) {
  typename Vec<T>::type v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename T>
inline void storeVec(T* p, typename Vec<T>::type v) {
  std::memcpy(p, &v, sizeof v);
}

/// Columns per register tile: two vectors (16 floats, 8 doubles with AVX).
template <typename T>
inline constexpr int kNR = 2 * Vec<T>::width;
/// Rows per register tile: 4 rows x 2 vectors = 8 accumulators, enough to
/// cover the FMA latency of two FMA units.
inline constexpr int kMR = 4;

/// Columns of a packed operand: n rounded up to whole register tiles.
template <typename T>
inline int64_t paddedCols(int64_t n) {
  return (n + kNR<T> - 1) / kNR<T> * kNR<T>;
}

// One R x kNR tile: c = alpha * sum_k a(r, k) b(k, :) + beta * c, with
// a(r, k) = a[r * sai + k * sak] and kNR readable values in each row of b.
// Only the first `cols` columns of c are written; with beta == 0, c is not
// read.
template <typename T, int R>
inline void microTile(int64_t K, const T* a, int64_t sai, int64_t sak, const T* b, int64_t ldb, T* c, int64_t ldc,
                      int cols, T alpha, T beta) {
  using V = typename Vec<T>::type;
  constexpr int W = Vec<T>::width;
  V acc0[R], acc1[R];
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = V{};
  for (int64_t k = 0; k < K; ++k) {
    const V b0 = loadVec(b + k * ldb), b1 = loadVec(b + k * ldb + W);
    const T* ak = a + k * sak;
    for (int r = 0; r < R; ++r) {
      const T ar = ak[r * sai];
      acc0[r] += ar * b0;  // contracted to FMA (-ffp-contract=fast, GNU mode)
      acc1[r] += ar * b1;
    }
  }
  for (int r = 0; r < R; ++r) {
    T* cr = c + r * ldc;
    V v0 = alpha * acc0[r], v1 = alpha * acc1[r];
    if (cols == 2 * W) {
      if (beta != T(0)) {
        v0 += beta * loadVec(cr);
        v1 += beta * loadVec(cr + W);
      }
      storeVec(cr, v0);
      storeVec(cr + W, v1);
    } else {
      T tmp[2 * W];
      storeVec(tmp, v0);
      storeVec(tmp + W, v1);
      for (int j = 0; j < cols; ++j) cr[j] = beta == T(0) ? tmp[j] : tmp[j] + beta * cr[j];
    }
  }
}

/// C (M x N) = alpha * A' B' + beta * C, where A'(i, k) = a[i * sai + k * sak]
/// (M x K) and row k of B' starts at b + k * ldb with paddedCols(N)
/// readable values. With lowerOnly, register tiles strictly above the
/// diagonal are skipped (their entries are left as they were).
template <typename T>
void smallGemm(int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t sai, int64_t sak, const T* b,
               int64_t ldb, T beta, T* c, int64_t ldc, bool lowerOnly = false) {
  constexpr int NR = kNR<T>;
  for (int64_t j0 = 0; j0 < N; j0 += NR) {
    const int cols = static_cast<int>(std::min<int64_t>(NR, N - j0));
    for (int64_t i0 = 0; i0 < M; i0 += kMR) {
      if (lowerOnly && j0 >= i0 + kMR) continue;
      const T* ai = a + i0 * sai;
      const T* bj = b + j0;
      T* cij = c + i0 * ldc + j0;
      switch (std::min<int64_t>(kMR, M - i0)) {
        case 4: microTile<T, 4>(K, ai, sai, sak, bj, ldb, cij, ldc, cols, alpha, beta); break;
        case 3: microTile<T, 3>(K, ai, sai, sak, bj, ldb, cij, ldc, cols, alpha, beta); break;
        case 2: microTile<T, 2>(K, ai, sai, sak, bj, ldb, cij, ldc, cols, alpha, beta); break;
        default: microTile<T, 1>(K, ai, sai, sak, bj, ldb, cij, ldc, cols, alpha, beta); break;
      }
    }
  }
}

/// Rows per block of smallSymmetricProduct (small_ops.h), and of its
/// narrow tile: eight accumulators of one vector each.
inline constexpr int kSymRows = 8;

// One R x W tile, W one vector: c = alpha * sum_k a(r, k) b(k, :) (beta 0),
// entry for entry the same arithmetic as microTile's (one FMA chain over k,
// then the product with alpha). Only the first `cols` columns are written.
template <typename T, int R>
inline void microTileNarrow(int64_t K, const T* a, int64_t sai, int64_t sak, const T* b, int64_t ldb, T* c,
                            int64_t ldc, int cols, T alpha) {
  using V = typename Vec<T>::type;
  constexpr int W = Vec<T>::width;
  V acc[R];
  for (int r = 0; r < R; ++r) acc[r] = V{};
  for (int64_t k = 0; k < K; ++k) {
    const V bk = loadVec(b + k * ldb);
    const T* ak = a + k * sak;
    for (int r = 0; r < R; ++r) acc[r] += ak[r * sai] * bk;  // contracted to FMA, as in microTile
  }
  for (int r = 0; r < R; ++r) {
    const V v = alpha * acc[r];
    if (cols == W) {
      storeVec(c + r * ldc, v);
    } else {
      T tmp[W];
      storeVec(tmp, v);
      for (int j = 0; j < cols; ++j) c[r * ldc + j] = tmp[j];
    }
  }
}

/// Copies the K x N matrix B'(k, j) = b[k * sbk + j * sbj] into `out` with
/// rows of paddedCols(N) values, zero past column N. Returns the row stride.
template <typename T>
int64_t packRows(int64_t K, int64_t N, const T* b, int64_t sbk, int64_t sbj, std::vector<T>& out) {
  const int64_t ld = paddedCols<T>(N);
  out.resize(static_cast<std::size_t>(K * ld));
  for (int64_t k = 0; k < K; ++k) {
    T* o = out.data() + k * ld;
    if (sbj == 1) {
      std::memcpy(o, b + k * sbk, sizeof(T) * N);
    } else {
      for (int64_t j = 0; j < N; ++j) o[j] = b[k * sbk + j * sbj];
    }
    std::fill(o + N, o + ld, T(0));
  }
  return ld;
}

/// Row-accessible view of B'(k, j) = b[k * sbk + j * sbj] (K x N) for
/// smallGemm: b itself when its rows are contiguous and N fills whole tiles,
/// else a packed copy in `scratch`.
template <typename T>
const T* rowsOf(int64_t K, int64_t N, const T* b, int64_t sbk, int64_t sbj, std::vector<T>& scratch,
                int64_t& ldb) {
  if (sbj == 1 && N % kNR<T> == 0) {
    ldb = sbk;
    return b;
  }
  ldb = packRows(K, N, b, sbk, sbj, scratch);
  return scratch.data();
}

#endif  // ORTHO_SMALL_KERNELS

#if defined(__AVX__)
/// dst (8 x 8, row stride ldd) = src (8 x 8, row stride lds) transposed:
/// eight row loads, three shuffle stages, eight row stores.
inline void transposeTile(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int h = 0; h < 8; h += 4) {
    r[h + 0] = _mm256_shuffle_ps(t[h + 0], t[h + 2], 0x44);
    r[h + 1] = _mm256_shuffle_ps(t[h + 0], t[h + 2], 0xEE);
    r[h + 2] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0x44);
    r[h + 3] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}
/// The same for 4 x 4 doubles.
inline void transposeTile(const double* src, int64_t lds, double* dst, int64_t ldd) {
  __m256d r0 = _mm256_loadu_pd(src), r1 = _mm256_loadu_pd(src + lds);
  __m256d r2 = _mm256_loadu_pd(src + 2 * lds), r3 = _mm256_loadu_pd(src + 3 * lds);
  __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
  __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
  _mm256_storeu_pd(dst, _mm256_permute2f128_pd(t0, t2, 0x20));
  _mm256_storeu_pd(dst + ldd, _mm256_permute2f128_pd(t1, t3, 0x20));
  _mm256_storeu_pd(dst + 2 * ldd, _mm256_permute2f128_pd(t0, t2, 0x31));
  _mm256_storeu_pd(dst + 3 * ldd, _mm256_permute2f128_pd(t1, t3, 0x31));
}
template <typename T>
inline constexpr int64_t kTransposeTile = 32 / sizeof(T);
#endif

/// Mirrors the strictly lower triangle of the row-major n x n matrix c onto
/// its upper triangle. The element loop reads a column (one cache line per
/// element); with AVX, whole register tiles are transposed instead (2.5x
/// faster at n = 256, measured against 16 x 16 element blocks).
template <typename T>
inline void mirrorLower(int64_t n, T* c, int64_t ldc) {
  int64_t done = 0;  // rows and columns [0, done) covered by whole tiles
#if defined(__AVX__)
  constexpr int64_t E = kTransposeTile<T>;
  done = n / E * E;
  for (int64_t i0 = 0; i0 < done; i0 += E) {
    for (int64_t j0 = i0 + E; j0 < done; j0 += E) transposeTile(c + j0 * ldc + i0, ldc, c + i0 * ldc + j0, ldc);
    for (int64_t i = i0; i < i0 + E; ++i)
      for (int64_t j = i + 1; j < i0 + E; ++j) c[i * ldc + j] = c[j * ldc + i];
  }
#endif
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = std::max(i + 1, done); j < n; ++j) c[i * ldc + j] = c[j * ldc + i];
}

/// c = c + c^T in place (row-major n x n): each pair summed once, as
/// c(i, j) + c(j, i) with i >= j (the order of the backends' addTransposed;
/// IEEE addition commutes exactly, so the diagonal tiles may sum either
/// way). With AVX, whole register tiles: a strided element loop reads one
/// cache line per upper element, as in mirrorLower.
template <typename T>
inline void symmetrizeSum(int64_t n, T* c, int64_t ldc) {
  int64_t done = 0;  // rows and columns [0, done) covered by whole tiles
#if defined(__AVX__)
  constexpr int64_t E = kTransposeTile<T>;
  done = n / E * E;
  alignas(32) T up[E * E], sum[E * E];
  for (int64_t i0 = 0; i0 < done; i0 += E)
    for (int64_t j0 = 0; j0 <= i0; j0 += E) {
      transposeTile(c + j0 * ldc + i0, ldc, up, E);  // up(r, s) = c(j0 + s, i0 + r)
      for (int64_t r = 0; r < E; ++r)
        for (int64_t s = 0; s < E; ++s) sum[r * E + s] = c[(i0 + r) * ldc + j0 + s] + up[r * E + s];
      for (int64_t r = 0; r < E; ++r) std::memcpy(c + (i0 + r) * ldc + j0, sum + r * E, sizeof(T) * E);
      transposeTile(sum, E, c + j0 * ldc + i0, ldc);
    }
#endif
  for (int64_t i = done; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      const T v = c[i * ldc + j] + c[j * ldc + i];
      c[i * ldc + j] = v;
      c[j * ldc + i] = v;
    }
}

/// Rows j..m-1 of the nc columns starting at x (row i at x + i * ldx) times
/// (I - t v v^T), with v = [1; work[i * n + j] for i > j] (reflector j of
/// smallQr, stored below the diagonal of its row-major m x n work). The
/// products are axpys over the contiguous columns; w is nc scratch.
template <typename T>
inline void applyReflector(int64_t m, int64_t n, int64_t j, const T* work, T t, T* x, int64_t ldx, int64_t nc, T* w) {
  std::memcpy(w, x + j * ldx, sizeof(T) * nc);
  for (int64_t i = j + 1; i < m; ++i) {
    const T vi = work[i * n + j];
    const T* row = x + i * ldx;
    for (int64_t c = 0; c < nc; ++c) w[c] += vi * row[c];
  }
  for (int64_t c = 0; c < nc; ++c) w[c] *= t;
  for (int64_t c = 0; c < nc; ++c) x[j * ldx + c] -= w[c];
  for (int64_t i = j + 1; i < m; ++i) {
    const T vi = work[i * n + j];
    T* row = x + i * ldx;
    for (int64_t c = 0; c < nc; ++c) row[c] -= vi * w[c];
  }
}

/// Householder QR of one m x n row-major matrix a (m >= n, n small), in
/// place: a becomes Q (m x n, orthonormal columns) and r (n x n, row-major,
/// ldr) the upper triangular factor. Eigen's (LAPACK's) reflector
/// convention, column by column, Q formed backwards on the part of [I; 0]
/// that is not yet identity. Row-major loops: every update is an axpy over
/// contiguous columns, which the compiler vectorizes; `work` is m x n
/// scratch, `w` n scratch.
template <typename T>
void smallQr(int64_t m, int64_t n, T* a, int64_t lda, T* r, int64_t ldr, T* work, T* w, T* tau) {
  for (int64_t i = 0; i < m; ++i) std::memcpy(work + i * n, a + i * lda, sizeof(T) * n);
  const T tiny = std::numeric_limits<T>::min();
  for (int64_t j = 0; j < n; ++j) {
    const T c0 = work[j * n + j];
    T tailSq = 0;
    for (int64_t i = j + 1; i < m; ++i) tailSq += work[i * n + j] * work[i * n + j];
    T beta, t;
    if (tailSq <= tiny) {
      t = 0;
      beta = c0;
      for (int64_t i = j + 1; i < m; ++i) work[i * n + j] = 0;
    } else {
      beta = std::sqrt(c0 * c0 + tailSq);
      if (c0 >= 0) beta = -beta;
      const T scale = T(1) / (c0 - beta);
      for (int64_t i = j + 1; i < m; ++i) work[i * n + j] *= scale;
      t = (beta - c0) / beta;
    }
    work[j * n + j] = beta;
    tau[j] = t;
    if (t == T(0) || j + 1 == n) continue;
    applyReflector(m, n, j, work, t, work + j + 1, n, n - j - 1, w);  // the trailing columns
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) r[i * ldr + j] = j >= i ? work[i * n + j] : T(0);
  // Q = H_0 ... H_{n-1} [I; 0], applied backwards to columns j.. only.
  for (int64_t i = 0; i < m; ++i) {
    T* row = a + i * lda;
    std::fill(row, row + n, T(0));
    if (i < n) row[i] = T(1);
  }
  for (int64_t j = n - 1; j >= 0; --j) {
    if (tau[j] != T(0)) applyReflector(m, n, j, work, tau[j], a + j, lda, n - j, w);
  }
}

}  // namespace ortho::cpu
