// The small-matrix operations built on small_kernels.h, shared by the
// products and the fused per-matrix algorithms.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../../core/backend.h"
#include "small_kernels.h"

namespace ortho::cpu {

/// Products whose every dimension is at most kSmallDim go to the register
/// kernels of small_kernels.h (products with fewer than 8 columns, such as
/// the power iteration's matrix-vector products, stay with Eigen).
inline bool useSmall(int64_t M, int64_t N, int64_t K) {
  return ORTHO_SMALL_KERNELS && M <= kSmallDim && N <= kSmallDim && K <= 4 * kSmallDim && N >= 8;
}

#if ORTHO_SMALL_KERNELS
/// C (M x N) = alpha A' B' + beta C on the small kernels, A'(i, r) =
/// a[i * sai + r * sak], B'(r, j) = b[r * sbk + j * sbj] (read in place
/// when its rows are whole register tiles, else packed). lowerOnly: as
/// smallGemm's.
template <typename T>
void smallProduct(int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t sai, int64_t sak, const T* b,
                  int64_t sbk, int64_t sbj, T beta, T* c, int64_t ldc, bool lowerOnly = false) {
  thread_local std::vector<T> pack;
  int64_t ldb;
  const T* rows = rowsOf(K, N, b, sbk, sbj, pack, ldb);
  smallGemm(M, N, K, alpha, a, sai, sak, rows, ldb, beta, c, ldc, lowerOnly);
}

/// C (M x M) = alpha A' B' for a product known to be exactly symmetric
/// (X^T X, or S S with S symmetric), A'(i, r) = a[i * sai + r * sak],
/// B'(r, j) = b[r * sbk + j * sbj]: the lower triangle, then a mirror.
/// Each entry is smallProduct's bit for bit (one FMA chain over r, then the
/// product with alpha). Rows go in blocks of kSymRows; the columns each
/// block needs, [0, i0 + kSymRows), in smallGemm's 4 x two-vector tiles,
/// except a last single vector (float with AVX: a diagonal block every
/// other block), which gets one kSymRows x one-vector tile instead of a
/// tile half in the upper triangle. At 32 x 32 float that is 62.5% of the
/// full product's work, against 75% for smallProduct's lowerOnly.
template <typename T>
void smallSymmetricProduct(int64_t M, int64_t K, T alpha, const T* a, int64_t sai, int64_t sak, const T* b,
                           int64_t sbk, int64_t sbj, T* c, int64_t ldc) {
  constexpr int W = Vec<T>::width, NR = kNR<T>;
  thread_local std::vector<T> pack;
  int64_t ldb;
  const T* rows = rowsOf(K, M, b, sbk, sbj, pack, ldb);
  for (int64_t i0 = 0; i0 < M; i0 += kSymRows) {
    const int64_t nr = std::min<int64_t>(kSymRows, M - i0), end = i0 + nr;  // columns [0, end) needed
    for (int64_t j0 = 0; j0 < end; j0 += NR) {
      const int cols = static_cast<int>(std::min<int64_t>(NR, M - j0));
      if (end - j0 <= W && nr == kSymRows) {
        microTileNarrow<T, kSymRows>(K, a + i0 * sai, sai, sak, rows + j0, ldb, c + i0 * ldc + j0, ldc,
                                     std::min(cols, W), alpha);
        continue;
      }
      for (int64_t r0 = i0; r0 < end; r0 += kMR) {
        const T* ar = a + r0 * sai;
        T* cr = c + r0 * ldc + j0;
        switch (std::min<int64_t>(kMR, end - r0)) {
          case 4: microTile<T, 4>(K, ar, sai, sak, rows + j0, ldb, cr, ldc, cols, alpha, T(0)); break;
          case 3: microTile<T, 3>(K, ar, sai, sak, rows + j0, ldb, cr, ldc, cols, alpha, T(0)); break;
          case 2: microTile<T, 2>(K, ar, sai, sak, rows + j0, ldb, cr, ldc, cols, alpha, T(0)); break;
          default: microTile<T, 1>(K, ar, sai, sak, rows + j0, ldb, cr, ldc, cols, alpha, T(0)); break;
        }
      }
    }
  }
  mirrorLower(M, c, ldc);
}

/// C = alpha op(A) op(A)^T + beta C for one M x M matrix C (op(A): M x K),
/// lower register tiles then a mirror: both triangles written.
template <typename T>
void smallSyrk(T alpha, const T* a, int64_t lda, Op opA, int64_t M, int64_t K, T beta, T* c, int64_t ldc) {
  // A' = op(A); B'(k, j) = op(A)(j, k): rows of A when op(A) = A^T, else A transposed.
  const bool t = opA == Op::T;
  smallProduct(M, M, K, alpha, a, t ? 1 : lda, t ? lda : 1, a, t ? lda : 1, t ? 1 : lda, beta, c, ldc, true);
  mirrorLower(M, c, ldc);
}

/// M (k x k, row stride ldm) = (1 + beta) I - beta Gram(w) for one small
/// m x n matrix w, k = min(m, n): w^T w when tall, w w^T when wide (the
/// plain path's syrk with alpha = -beta, then addDiagonal).
template <typename T>
void smallFoldedGram(int64_t m, int64_t n, T beta, const T* w, int64_t ldw, T* M, int64_t ldm) {
  const int64_t k = std::min(m, n);
  smallSyrk(-beta, w, ldw, m >= n ? Op::T : Op::N, k, std::max(m, n), T(0), M, ldm);
  for (int64_t i = 0; i < k; ++i) M[i * ldm + i] += T(1) + beta;
}

/// One Björck step of one small m x n matrix w (row stride ldw) into out:
/// g = -beta Gram(w) (lower tiles, mirrored), + (1 + beta) on the
/// diagonal, then the one product with w (w g when tall, g w when wide).
template <typename T>
void smallBjorckStep(int64_t m, int64_t n, T beta, const T* w, int64_t ldw, T* g, int64_t ldg, T* out, int64_t ldo) {
  smallFoldedGram(m, n, beta, w, ldw, g, ldg);
  if (m >= n)
    smallProduct(m, n, n, T(1), w, ldw, 1, g, ldg, 1, T(0), out, ldo);
  else
    smallProduct(m, n, m, T(1), g, ldg, 1, w, ldw, 1, T(0), out, ldo);
}
#endif

}  // namespace ortho::cpu
