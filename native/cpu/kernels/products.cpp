// Batched GEMM, SYRK and triangular solves: the small register kernels up to
// kSmallDim, Eigen above, parallel over the batch or over row blocks of one
// large product.
#include "common.h"
#include "primitives.h"
#include "small_ops.h"

namespace ortho::cpu {
namespace {

template <bool TA, bool TB, typename T, typename C_, typename A_, typename B_>
void gemmKernel(T alpha, const A_& a, const B_& b, T beta, C_&& c) {
  auto run = [&](const auto& aa, const auto& bb) {
    if (beta == T(0)) {
      c.noalias() = alpha * (aa * bb);
    } else {
      if (beta != T(1)) c *= beta;
      c.noalias() += alpha * (aa * bb);
    }
  };
  if constexpr (TA && TB)
    run(a.transpose(), b.transpose());
  else if constexpr (TA)
    run(a.transpose(), b);
  else if constexpr (TB)
    run(a, b.transpose());
  else
    run(a, b);
}

// C's lower triangle (with the diagonal) times beta, zeroed for beta = 0,
// row by row: contiguous in the row-major views (Eigen's triangular
// assignment walks columns, one cache miss per element).
template <typename T, typename D>
void scaleLower(D&& d, T beta) {
  if (beta == T(1)) return;
  for (Index i = 0; i < d.rows(); ++i) {
    auto row = d.row(i).head(i + 1);
    if (beta == T(0))
      row.setZero();
    else
      row *= beta;
  }
}

template <int SideMode, typename A_, typename B_>
void solve(const A_& a, Uplo uplo, Op opA, B_& b) {
  if (opA == Op::N) {
    if (uplo == Uplo::Lower)
      a.template triangularView<Eigen::Lower>().template solveInPlace<SideMode>(b);
    else
      a.template triangularView<Eigen::Upper>().template solveInPlace<SideMode>(b);
  } else {
    if (uplo == Uplo::Lower)
      a.transpose().template triangularView<Eigen::Upper>().template solveInPlace<SideMode>(b);
    else
      a.transpose().template triangularView<Eigen::Lower>().template solveInPlace<SideMode>(b);
  }
}

// Rows of the diagonal block used by solveLeft: small enough that its
// substitution (axpys) stays a small share of the work, large enough that
// the products between blocks are real GEMMs.
constexpr Index kSolveBlock = 32;
// Largest order solveLeft takes; Eigen's solver beyond it, where its larger
// blocks win or tie (cholesky-stable at 1 x 1024 x 1024: 9 % slower with
// solveLeft; at order 128 within 4 % either way).
constexpr Index kSolveOwnMax = kSmallDim;

// op(A) X = B on the left, in place on b (row-major, n x nc): blocked
// substitution, the blocks below (or above) the diagonal block applied as
// one GEMM through Eigen, the diagonal block by axpys over b's contiguous
// rows, divided by its diagonal. On small triangles Eigen's own solver was
// a tenth to a quarter of the Cholesky presets' time, slower still with
// AVX-512, whose 16-wide packets its triangular kernel cannot fill there.
template <typename A_, typename B_>
void solveLeft(const A_& a, Uplo uplo, Op opA, B_& b) {
  using T = typename B_::Scalar;
  const Index n = a.rows(), nc = b.cols();
  // op(A)(i, k) and whether op(A) is lower triangular.
  auto e = [&](Index i, Index k) { return opA == Op::N ? a(i, k) : a(k, i); };
  const bool lower = (uplo == Uplo::Lower) == (opA == Op::N);
  T* base = b.data();
  const Index ld = b.outerStride();
  // Row i minus op(A)(i, k) times the rows k in [k0, k1), already solved,
  // then divided by the diagonal.
  auto solveRow = [&](Index i, Index k0, Index k1) {
    T* bi = base + i * ld;
    for (Index k = k0; k < k1; ++k) {
      const T f = e(i, k);
      const T* bk = base + k * ld;
      for (Index c = 0; c < nc; ++c) bi[c] -= f * bk[c];
    }
    const T d = e(i, i);
    for (Index c = 0; c < nc; ++c) bi[c] /= d;
  };
  // The diagonal block [i0, i1): top down for a lower op(A), bottom up for
  // an upper one.
  auto substitute = [&](Index i0, Index i1) {
    if (lower)
      for (Index i = i0; i < i1; ++i) solveRow(i, i0, i);
    else
      for (Index i = i1 - 1; i >= i0; --i) solveRow(i, i + 1, i1);
  };
  // Rows [r0, r0 + h) of b minus op(A)'s block at (r0, c0), h x w, times
  // b's solved rows [from, from + w): one Eigen GEMM.
  auto update = [&](Index r0, Index h, Index c0, Index w, Index from) {
    auto rows = b.middleRows(r0, h);
    if (opA == Op::N)
      rows.noalias() -= a.block(r0, c0, h, w) * b.middleRows(from, w);
    else
      rows.noalias() -= a.block(c0, r0, w, h).transpose() * b.middleRows(from, w);
  };
  if (lower) {
    for (Index i0 = 0; i0 < n; i0 += kSolveBlock) {
      const Index i1 = std::min(n, i0 + kSolveBlock);
      if (i0 > 0) update(i0, i1 - i0, 0, i0, 0);
      substitute(i0, i1);
    }
  } else {
    for (Index i1 = n; i1 > 0; i1 -= kSolveBlock) {
      const Index i0 = std::max<Index>(0, i1 - kSolveBlock);
      if (i1 < n) update(i0, i1 - i0, i1, n - i1, i1);
      substitute(i0, i1);
    }
  }
}

}  // namespace

template <typename T>
void Products<T>::gemm(int64_t batch, T alpha, Mat<const T> A, Op opA, Mat<const T> B, Op opB, T beta, Mat<T> C) {
  const int64_t M = C.rows, N = C.cols, K = opA == Op::N ? A.cols : A.rows;
#if ORTHO_SMALL_KERNELS
  if (useSmall(M, N, K)) {
    forEachMatrix(batch, 2.0 * M * N * K, [&](int64_t b) {
      smallProduct(M, N, K, alpha, A.data + b * A.stride, opA == Op::N ? A.ld : 1, opA == Op::N ? 1 : A.ld,
                   B.data + b * B.stride, opB == Op::N ? B.ld : 1, opB == Op::N ? 1 : B.ld, beta,
                   C.data + b * C.stride, C.ld);
    });
    return;
  }
#endif
  Split s = splitWork(batch, 2.0 * M * N * K, M / 32);
  parallelFor(batch * s.parts, s.grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / s.parts, p = t % s.parts;
      const int64_t r0 = cut(M, s.parts, p), r1 = cut(M, s.parts, p + 1);
      if (r1 <= r0) continue;
      auto a = cview(A, b);
      auto bm = cview(B, b);
      auto c = view(C, b).middleRows(r0, r1 - r0);
      // Rows r0..r1 of op(A): rows of A, or columns of A (transposed).
      if (opA == Op::N) {
        auto as = a.middleRows(r0, r1 - r0);
        if (opB == Op::N)
          gemmKernel<false, false>(alpha, as, bm, beta, c);
        else
          gemmKernel<false, true>(alpha, as, bm, beta, c);
      } else {
        auto as = a.middleCols(r0, r1 - r0);
        if (opB == Op::N)
          gemmKernel<true, false>(alpha, as, bm, beta, c);
        else
          gemmKernel<true, true>(alpha, as, bm, beta, c);
      }
    }
  });
}

template <typename T>
void Products<T>::syrk(int64_t batch, T alpha, Mat<const T> A, Op opA, T beta, Mat<T> C) {
  const int64_t M = C.rows, K = opA == Op::N ? A.cols : A.rows;
#if ORTHO_SMALL_KERNELS
  if (useSmall(M, M, K)) {
    forEachMatrix(batch, 1.0 * M * M * K, [&](int64_t b) {
      smallSyrk(alpha, A.data + b * A.stride, A.ld, opA, M, K, beta, C.data + b * C.stride, C.ld);
    });
    return;
  }
#endif
  Split s = splitWork(batch, 1.0 * M * M * K, M / 64);
  // Row blocks with equal shares of the lower triangle: r_k = M sqrt(k / P).
  auto bound = [&](int64_t k) {
    return k >= s.parts ? M : static_cast<int64_t>(std::llround(M * std::sqrt(double(k) / s.parts)));
  };
  parallelFor(batch * s.parts, s.grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / s.parts, p = t % s.parts;
      const int64_t r0 = bound(p), r1 = bound(p + 1);
      if (r1 <= r0) continue;
      auto a = cview(A, b);
      auto c = view(C, b);
      const int64_t h = r1 - r0;
      if (opA == Op::N) {
        auto ar = a.middleRows(r0, h);
        if (r0 > 0) gemmKernel<false, true>(alpha, ar, a.topRows(r0), beta, c.block(r0, 0, h, r0));
        auto d = c.block(r0, r0, h, h);
        scaleLower(d, beta);
        d.template selfadjointView<Eigen::Lower>().rankUpdate(ar, alpha);
      } else {
        auto ar = a.middleCols(r0, h);
        if (r0 > 0) gemmKernel<true, false>(alpha, ar, a.leftCols(r0), beta, c.block(r0, 0, h, r0));
        auto d = c.block(r0, r0, h, h);
        scaleLower(d, beta);
        d.template selfadjointView<Eigen::Lower>().rankUpdate(ar.transpose(), alpha);
      }
    }
  });
  mirrorLowerBatch(batch, C);
}

template <typename T>
void Products<T>::trsm(int64_t batch, Side side, Uplo uplo, Op opA, T alpha, Mat<const T> A, Mat<T> B) {
  const int64_t n = A.rows;
  // Independent right-hand sides: columns of B (left) or rows of B (right).
  const int64_t rhs = side == Side::Left ? B.cols : B.rows;
  Split s = splitWork(batch, double(n) * n * rhs, rhs / 16);
  parallelFor(batch * s.parts, s.grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / s.parts, p = t % s.parts;
      const int64_t c0 = cut(rhs, s.parts, p), c1 = cut(rhs, s.parts, p + 1);
      if (c1 <= c0) continue;
      auto a = cview(A, b);
      auto bfull = view(B, b);
      if (side == Side::Left) {
        auto bb = bfull.middleCols(c0, c1 - c0);
        if (alpha != T(1)) bb *= alpha;
        if (n <= kSolveOwnMax)
          solveLeft(a, uplo, opA, bb);
        else
          solve<Eigen::OnTheLeft>(a, uplo, opA, bb);
      } else {
        auto bb = bfull.middleRows(c0, c1 - c0);
        if (alpha != T(1)) bb *= alpha;
        solve<Eigen::OnTheRight>(a, uplo, opA, bb);
      }
    }
  });
}

template struct Products<float>;
template struct Products<double>;

}  // namespace ortho::cpu
