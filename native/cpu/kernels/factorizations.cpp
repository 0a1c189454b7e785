// Cholesky (potrf), Householder QR and singular values: Eigen's blocked
// building blocks, parallel over the batch or, for a batch too small to keep
// every thread busy, inside one large factorization.
#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <Eigen/Householder>
#include <Eigen/QR>
#include <Eigen/SVD>  // internal::UpperBidiagonalization (BDCSVD is not used)

#include "common.h"
#include "primitives.h"

namespace ortho::cpu {
namespace {

// Lower Cholesky of one small matrix (n <= kSmallDim), in place. Eigen's
// blocked code splits even a 32 x 32 matrix into blocks of 8 with a
// triangular solve and a rank update each, whose setup costs more than the
// arithmetic (and more with AVX-512's 16-wide packets, which such blocks
// cannot fill: 16 % slower than AVX2 at 4096 x 32 x 32 on Zen 4). Here
// right-looking on the transposed factor U = L^T (row-major scratch): each
// step scales one row and updates the rows below it by axpys over contiguous
// columns, which the compiler vectorizes. A pivot that is not positive stops
// the factorization, as Eigen's does (same test, x <= 0); returns potrf's
// info (potrfOne then clears the upper triangle and checks the pivots).
template <typename T>
int potrfSmall(MapM<T> a) {
  const Index n = a.rows();
  thread_local std::vector<T> scratch;
  scratch.resize(static_cast<std::size_t>(n * n));
  T* u = scratch.data();
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j <= i; ++j) u[j * n + i] = a(i, j);  // upper of U = lower of A, transposed
  int info = 0;
  for (Index j = 0; j < n; ++j) {
    T* uj = u + j * n;
    const T d = uj[j];
    if (d <= T(0)) {
      info = static_cast<int>(j + 1);
      break;
    }
    const T r = std::sqrt(d);
    uj[j] = r;
    for (Index c = j + 1; c < n; ++c) uj[c] /= r;
    for (Index i = j + 1; i < n; ++i) {
      const T f = uj[i];
      T* ui = u + i * n;
      for (Index c = i; c < n; ++c) ui[c] -= f * uj[c];
    }
  }
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j <= i; ++j) a(i, j) = u[j * n + i];
  return info;
}

// In-place lower Cholesky of one matrix, the right-looking blocked
// algorithm of Eigen's llt_inplace::blocked (same block size): factor the
// diagonal block, solve the panel below it, update the trailing lower
// triangle. With `split`, the panel solve and the trailing update are
// split over the threads by rows (equal shares of the triangle). Returns
// potrf's info: 0, or the order of the first leading minor that fails.
// One matrix of order kSmallDim or less on one thread: potrfSmall.
template <typename T>
int potrfOne(MapM<T> a, bool split) {
  const Index n = a.rows();
  const Index block = std::max<Index>(std::min<Index>(std::max<Index>(n / 8, (n / 16) * 16), 128), 8);
  int info = 0;
  if (!split && n <= kSmallDim) {
    info = potrfSmall(a);
  } else if (!split) {
    // Eigen's own blocked code (reports the failing pivot, which the public
    // LLT class does not expose).
    Index k = Eigen::internal::llt_inplace<T, Eigen::Lower>::blocked(a);
    info = k < 0 ? 0 : static_cast<int>(k + 1);
  } else {
    for (Index k = 0; k < n && info == 0; k += block) {
      const Index bs = std::min(block, n - k), rs = n - k - bs;
      auto a11 = a.block(k, k, bs, bs);
      Index ret = Eigen::internal::llt_inplace<T, Eigen::Lower>::unblocked(a11);
      if (ret >= 0) {
        info = static_cast<int>(k + ret + 1);
        break;
      }
      if (rs == 0) break;
      auto a21 = a.block(k + bs, k, rs, bs);
      auto a22 = a.block(k + bs, k + bs, rs, rs);
      parallelFor(rs, 64, [&](int64_t r0, int64_t r1) {
        auto rows = a21.middleRows(r0, r1 - r0);
        a11.adjoint().template triangularView<Eigen::Upper>().template solveInPlace<Eigen::OnTheRight>(rows);
      });
      // Row blocks with equal shares of the lower triangle: r_p = rs sqrt(p / P).
      const int64_t parts = std::min<int64_t>(2 * cpuThreads(), std::max<int64_t>(1, rs / 64));
      auto bound = [&](int64_t p) {
        return p >= parts ? rs : static_cast<Index>(std::llround(rs * std::sqrt(double(p) / parts)));
      };
      parallelFor(parts, 1, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
          const Index r0 = bound(p), h = bound(p + 1) - r0;
          if (h <= 0) continue;
          auto ar = a21.middleRows(r0, h);
          if (r0 > 0) a22.block(r0, 0, h, r0).noalias() -= ar * a21.topRows(r0).transpose();
          a22.block(r0, r0, h, h).template selfadjointView<Eigen::Lower>().rankUpdate(ar, T(-1));
        }
      });
    }
  }
  a.template triangularView<Eigen::StrictlyUpper>().setZero();
  // An overflowed A (inf pivot) or its NaN fallout: Eigen tests only x <= 0.
  for (Index j = 0; j < n && info == 0; ++j)
    if (!std::isfinite(a(j, j))) info = static_cast<int>(j + 1);
  return info;
}

// Householder QR of matrix b (m >= n), LAPACK's blocked algorithm: each
// panel of kQrBlock columns is factored by Eigen's unblocked Householder
// code, the trailing columns get the panel's block reflector (two GEMMs),
// and Q is formed by applying the block reflectors backwards to [I; 0],
// touching only the rows and columns that are not yet identity (LAPACK's
// orgqr: 2mn^2 - 2n^3/3 flops instead of the 4mn^2 of applying the
// sequence to a full identity). With `split`, the columns each reflector
// updates are split over the threads.
template <typename T>
void qrOne(Mat<T> A, Mat<T> R, int64_t b, bool split) {
  using Vector = Eigen::Matrix<T, Dynamic, 1>;
  const Index m = A.rows, n = A.cols;
  // Per-thread scratch, named through references: lambdas run on pool
  // threads must reach this thread's instances, not their own.
  thread_local ColMat<T> workTls, qTls;
  thread_local Vector tauTls, tempTls;
  ColMat<T>& work = workTls;
  ColMat<T>& q = qTls;
  Vector& tau = tauTls;
  Vector& temp = tempTls;
  work = view(A, b);
  tau.resize(n);
  temp.resize(n);
  auto columns = [&](Index count, const auto& fn) {
    if (split)
      parallelFor(count, kQrBlock, [&](int64_t c0, int64_t c1) { fn(Index(c0), Index(c1 - c0)); });
    else
      fn(Index(0), count);
  };
  for (Index k = 0; k < n; k += kQrBlock) {
    const Index bs = std::min<Index>(kQrBlock, n - k), rest = n - k - bs;
    auto panel = work.block(k, k, m - k, bs);
    auto tk = tau.segment(k, bs);
    Eigen::internal::householder_qr_inplace_unblocked(panel, tk, temp.data());
    if (rest > 0)
      columns(rest, [&](Index c0, Index cn) {
        auto trailing = work.block(k, k + bs + c0, m - k, cn);
        Eigen::internal::apply_block_householder_on_the_left(trailing, panel, tk, false);
      });
  }
  view(R, b) = work.topRows(n).template triangularView<Eigen::Upper>();
  q.setIdentity(m, n);
  for (Index k = (n - 1) / kQrBlock * kQrBlock; k >= 0; k -= kQrBlock) {
    const Index bs = std::min<Index>(kQrBlock, n - k);
    const auto panel = work.block(k, k, m - k, bs);
    const auto tk = tau.segment(k, bs);
    // Columns < k of Q are still e_i, rows < k of the others still zero.
    columns(n - k, [&](Index c0, Index cn) {
      auto target = q.block(k, k + c0, m - k, cn);
      Eigen::internal::apply_block_householder_on_the_left(target, panel, tk, true);
    });
  }
  view(A, b) = q;
}

// Reduced QR in place: A (m x n, m >= n) becomes Q, R receives the triangle.
template <typename T>
void qrInPlace(int64_t batch, Mat<T> A, Mat<T> R) {
  const int64_t m = A.rows, n = A.cols;
  const double flops = 4.0 * m * n * n;
  if (n <= kSmallDim && m <= 8 * kSmallDim) {
    // Small matrices: the unblocked algorithm in row-major loops, no copies
    // to column-major and no per-call setup.
    parallelFor(batch, std::max<int64_t>(1, int64_t(kParallelFlops / flops)), [&](int64_t b0, int64_t b1) {
      thread_local std::vector<T> scratch;
      scratch.resize(static_cast<std::size_t>(m * n + 2 * n));
      for (int64_t b = b0; b < b1; ++b)
        smallQr(m, n, A.data + b * A.stride, A.ld, R.data + b * R.stride, R.ld, scratch.data(),
                scratch.data() + m * n, scratch.data() + m * n + n);
    });
    return;
  }
  // A batch too small to keep every thread busy: one matrix at a time,
  // with the blocked updates split over the threads.
  if (batch < cpuThreads() && flops >= kInnerParallelFlops) {
    for (int64_t b = 0; b < batch; ++b) qrOne(A, R, b, true);
    return;
  }
  parallelFor(batch, std::max<int64_t>(1, int64_t(kParallelFlops / flops)), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) qrOne(A, R, b, false);
  });
}

}  // namespace

template <typename T>
void Factorizations<T>::potrf(int64_t batch, Mat<T> A, int* info) {
  const double n = static_cast<double>(A.rows);
  if (batch < cpuThreads() && n * n * n / 3 >= kInnerParallelFlops) {
    for (int64_t b = 0; b < batch; ++b) info[b] = potrfOne(view(A, b), true);
    return;
  }
  parallelFor(batch, std::max<int64_t>(1, int64_t(3 * kParallelFlops / (n * n * n))), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) info[b] = potrfOne(view(A, b), false);
  });
}

template <typename T>
void Factorizations<T>::qr(int64_t batch, Mat<const T> A, Op opA, Mat<T> Q, Mat<T> R) {
  // In place on Q: a copy of op(A) first unless Q is A (allowed with Op::N only).
  if (A.data == Q.data && opA != Op::N)
    fail(code::kInternal, ErrorKind::Error, "qr(): Q may be A only when A is not transposed");
  if (A.data != Q.data) Elementwise<T>::copy(batch, A, opA, Q);
  qrInPlace(batch, Q, R);
}

namespace {

// The singular values of one matrix: Householder bidiagonalization
// (Eigen's), then the eigenvalues of the Golub-Kahan form of the upper
// bidiagonal B (diagonal d, superdiagonal e): the 2k x 2k symmetric
// tridiagonal with a zero diagonal and d1, e1, d2, e2, ..., dk below it,
// whose eigenvalues are +-sigma_i (Golub and Kahan, 1965), by Eigen's
// implicit symmetric QR. Both steps are backward stable, so each sigma_i
// is within a small multiple of eps * sigma_max, the bound BDCSVD gives.
// Why not BDCSVD: compiling it was about four fifths of this file's build
// time (160 s of 200 s for one CPU level, on a 2-core AMD EPYC), paid once
// per kernel level, for what serves singularValues(), a diagnostic.
template <typename T>
void singularValuesOne(ColMat<T> a, T* s) {
  using Vector = Eigen::Matrix<T, Dynamic, 1>;
  if (a.rows() < a.cols()) a.transposeInPlace();
  const Index k = a.cols();
  const Eigen::internal::UpperBidiagonalization<ColMat<T>> bid(a);
  const ColMat<T> B = bid.bidiagonal().toDenseMatrix();  // k x k, O(k^2) beside the O(m k^2) above
  Vector diag = Vector::Zero(2 * k), sub(2 * k - 1);
  for (Index i = 0; i < k; ++i) {
    sub(2 * i) = B(i, i);
    if (i + 1 < k) sub(2 * i + 1) = B(i, i + 1);
  }
  Eigen::SelfAdjointEigenSolver<ColMat<T>> eig;
  eig.computeFromTridiagonal(diag, sub, Eigen::EigenvaluesOnly);
  if (eig.info() != Eigen::Success)
    fail(code::kInternal, ErrorKind::Error, "singularValues(): the tridiagonal QR iteration did not converge");
  // Ascending: the top k are sigma_1 >= ... >= sigma_k (a zero sigma can
  // come out as a rounding-sized negative).
  for (Index i = 0; i < k; ++i) s[i] = std::abs(eig.eigenvalues()(2 * k - 1 - i));
}

}  // namespace

template <typename T>
void Factorizations<T>::singularValues(int64_t batch, Mat<const T> A, T* S) {
  const int64_t m = A.rows, n = A.cols, k = std::min(m, n);
  const double flops = 8.0 * m * n * k;
  parallelFor(batch, std::max<int64_t>(1, int64_t(kParallelFlops / flops)), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) singularValuesOne<T>(cview(A, b), S + b * k);
  });
}

template struct Factorizations<float>;
template struct Factorizations<double>;

}  // namespace ortho::cpu
