#include "cpu_backend.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <vector>

#define EIGEN_DONT_PARALLELIZE  // parallelism comes from our pool, not OpenMP
#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/Householder>
#include <Eigen/QR>
#include <Eigen/SVD>

#include "allocator.h"
#include "../core/parallel.h"
#include "small_kernels.h"

namespace ortho {
namespace {

using Eigen::Dynamic;
using Eigen::Index;
using Eigen::OuterStride;

template <typename T>
using RowMat = Eigen::Matrix<T, Dynamic, Dynamic, Eigen::RowMajor>;
template <typename T>
using ColMat = Eigen::Matrix<T, Dynamic, Dynamic, Eigen::ColMajor>;
template <typename T>
using MapM = Eigen::Map<RowMat<T>, Eigen::Unaligned, OuterStride<>>;
template <typename T>
using CMapM = Eigen::Map<const RowMat<T>, Eigen::Unaligned, OuterStride<>>;

template <typename T>
MapM<T> view(const Mat<T>& m, int64_t b) {
  return MapM<T>(m.data + b * m.stride, m.rows, m.cols, OuterStride<>(m.ld));
}
template <typename T>
CMapM<T> cview(const Mat<const T>& m, int64_t b) {
  return CMapM<T>(m.data + b * m.stride, m.rows, m.cols, OuterStride<>(m.ld));
}

// Work below this many flops (per loop) runs on the calling thread only.
constexpr double kParallelFlops = 2.0e5;
// A factorization of at least this many flops splits its blocked updates
// over the threads when the batch alone cannot keep them busy.
constexpr double kInnerParallelFlops = 2.0e7;
// Panel width of the blocked Householder QR (Eigen's own choice).
constexpr Eigen::Index kQrBlock = 48;
// Elements per chunk of a long reduction or scaling (groupDot, groupScale).
constexpr int64_t kReduceChunk = int64_t(1) << 16;

// Splits `batch` matrices of `flopsEach` flops into tasks: whole matrices when
// the batch alone keeps every thread busy, else `parts` slices of each matrix.
struct Split {
  int64_t parts = 1;
  int64_t grain = 1;  // tasks per chunk
};
Split splitWork(int64_t batch, double flopsEach, int64_t maxParts) {
  Split s;
  const int threads = cpuThreads();
  if (batch < threads && flopsEach * batch >= 8 * kParallelFlops && maxParts > 1)
    s.parts = std::min<int64_t>(maxParts, 2 * threads);
  double perTask = flopsEach / s.parts;
  s.grain = std::max<int64_t>(1, static_cast<int64_t>(kParallelFlops / std::max(perTask, 1.0)));
  return s;
}

// Boundaries for splitting n rows into `parts` ranges.
inline int64_t cut(int64_t n, int64_t parts, int64_t k) { return n * k / parts; }

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

template <typename T>
class CpuPrimitives final : public Primitives<T> {
 public:
  void gemm(int64_t batch, T alpha, Mat<const T> A, Op opA, Mat<const T> B, Op opB, T beta,
            Mat<T> C) override {
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

  void syrk(int64_t batch, T alpha, Mat<const T> A, Op opA, T beta, Mat<T> C) override {
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
    mirrorLower(batch, C);
  }

  void potrf(int64_t batch, Mat<T> A, int* info) override {
    const double n = static_cast<double>(A.rows);
    if (batch < cpuThreads() && n * n * n / 3 >= kInnerParallelFlops) {
      for (int64_t b = 0; b < batch; ++b) info[b] = potrfOne(view(A, b), true);
      return;
    }
    parallelFor(batch, std::max<int64_t>(1, int64_t(3 * kParallelFlops / (n * n * n))), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) info[b] = potrfOne(view(A, b), false);
    });
  }

  void trsm(int64_t batch, Side side, Uplo uplo, Op opA, T alpha, Mat<const T> A, Mat<T> B) override {
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
          solve<Eigen::OnTheLeft>(a, uplo, opA, bb);
        } else {
          auto bb = bfull.middleRows(c0, c1 - c0);
          if (alpha != T(1)) bb *= alpha;
          solve<Eigen::OnTheRight>(a, uplo, opA, bb);
        }
      }
    });
  }

  void qr(int64_t batch, Mat<const T> A, Op opA, Mat<T> Q, Mat<T> R) override {
    // In place on Q: a copy of op(A) first unless Q is A (allowed with Op::N only).
    if (A.data == Q.data && opA != Op::N)
      fail(code::kInternal, ErrorKind::Error, "qr(): Q may be A only when A is not transposed");
    if (A.data != Q.data) copy(batch, A, opA, Q);
    qrInPlace(batch, Q, R);
  }

  void singularValues(int64_t batch, Mat<const T> A, T* S) override {
    const int64_t m = A.rows, n = A.cols, k = std::min(m, n);
    const double flops = 8.0 * m * n * k;
    parallelFor(batch, std::max<int64_t>(1, int64_t(kParallelFlops / flops)), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        ColMat<T> a = cview(A, b);
        Eigen::BDCSVD<ColMat<T>> svd(a, 0);
        Eigen::Map<Eigen::Matrix<T, Dynamic, 1>>(S + b * k, k) = svd.singularValues();
      }
    });
  }

  void copy(int64_t batch, Mat<const T> A, Op opA, Mat<T> B) override {
    forEachMatrix(batch, double(B.rows) * B.cols, [&](int64_t b) {
      if (opA == Op::N)
        view(B, b) = cview(A, b);
      else
        view(B, b) = cview(A, b).transpose();
    });
  }

  void axpby(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B) override {
    forEachMatrix(batch, double(B.rows) * B.cols, [&](int64_t b) {
      auto bb = view(B, b);
      if (beta == T(0))
        bb = alpha * cview(A, b);
      else
        bb = alpha * cview(A, b) + beta * bb;
    });
  }

  void addTransposed(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B) override {
    forEachMatrix(batch, double(B.rows) * B.cols, [&](int64_t b) {
      auto a = cview(A, b);
      view(B, b) = alpha * a + beta * a.transpose();
    });
  }

  void fill(int64_t batch, Mat<T> A, T value) override {
    forEachMatrix(batch, double(A.rows) * A.cols, [&](int64_t b) { view(A, b).setConstant(value); });
  }

  void addDiagonal(int64_t batch, Mat<T> A, T value) override {
    forEachMatrix(batch, double(A.rows), [&](int64_t b) { view(A, b).diagonal().array() += value; });
  }

  void triangle(int64_t batch, Mat<T> A, TriOp op) override {
    if (op == TriOp::LowerToFull) {
      mirrorLower(batch, A);
      return;
    }
    forEachMatrix(batch, double(A.rows) * A.cols, [&](int64_t b) {
      view(A, b).template triangularView<Eigen::StrictlyUpper>().setZero();
    });
  }

  void qrSignFix(int64_t batch, Mat<T> Q, Mat<T> R) override {
    forEachMatrix(batch, double(Q.rows) * Q.cols, [&](int64_t b) {
      auto q = view(Q, b);
      auto r = view(R, b);
      for (Index j = 0; j < r.rows(); ++j) {
        T d = r(j, j);
        T s = d > T(0) ? T(1) : (d < T(0) ? T(-1) : T(0));
        if (s == T(1)) continue;
        q.col(j) *= s;
        r.row(j) *= s;
      }
    });
  }

  void groupDot(const GroupLayout& g, const T* x, const T* y, T* out) override {
    if (g.contiguousGroups()) {
      const int64_t G = g.groups(), S = g.groupSize();
      if (S <= 2 * kReduceChunk) {
        parallelFor(G, std::max<int64_t>(1, int64_t(kParallelFlops / S)), [&](int64_t g0, int64_t g1) {
          for (int64_t i = g0; i < g1; ++i) out[i] = static_cast<T>(dot(x + i * S, y + i * S, S));
        });
        return;
      }
      // Long groups (L2Normalize over a whole tensor): fixed chunks of every
      // group summed in parallel, then the partial sums of a group added in
      // chunk order. The chunks depend on S only, so the result does not
      // depend on the thread count or timing.
      const int64_t C = (S + kReduceChunk - 1) / kReduceChunk;
      std::vector<double> partial(static_cast<std::size_t>(G * C));
      forEachChunk(G, S, [&](int64_t t, int64_t i, int64_t k0, int64_t k1) {
        partial[t] = dot(x + i * S + k0, y + i * S + k0, k1 - k0);
      });
      for (int64_t i = 0; i < G; ++i) {
        double sum = 0;
        for (int64_t c = 0; c < C; ++c) sum += partial[i * C + c];
        out[i] = static_cast<T>(sum);
      }
      return;
    }
    // General layout: accumulate in memory order (deterministic).
    std::vector<double> acc(static_cast<std::size_t>(g.groups()), 0.0);
    forEachElement(g, [&](int64_t i, int64_t grp) { acc[grp] += double(x[i]) * double(y[i]); });
    for (std::size_t i = 0; i < acc.size(); ++i) out[i] = static_cast<T>(acc[i]);
  }

  void groupScale(const GroupLayout& g, const T* a, const T* x, const T* b, const T* y, T* out) override {
    if (g.contiguousGroups()) {
      const int64_t G = g.groups(), S = g.groupSize();
      // In chunks, so that one long group is split over the threads too.
      forEachChunk(G, S, [&](int64_t, int64_t i, int64_t k0, int64_t k1) {
        const T ai = a[i];
        const T* xs = x + i * S;
        T* os = out + i * S;
        if (y) {
          const T bi = b[i];
          const T* ys = y + i * S;
          for (int64_t k = k0; k < k1; ++k) os[k] = ai * xs[k] + bi * ys[k];
        } else {
          for (int64_t k = k0; k < k1; ++k) os[k] = ai * xs[k];
        }
      });
      return;
    }
    forEachElement(g, [&](int64_t i, int64_t grp) { out[i] = a[grp] * x[i] + (y ? b[grp] * y[i] : T(0)); });
  }

  void scalarMap(int64_t n, ScalarFn f, const T* a, const T* b, T p, T* out) override {
    for (int64_t i = 0; i < n; ++i) {
      switch (f) {
        case ScalarFn::InvSqrtPlus: out[i] = T(1) / (std::sqrt(a[i]) + p); break;
        case ScalarFn::InvPlus: out[i] = T(1) / (a[i] + p); break;
        case ScalarFn::Sqrt: out[i] = std::sqrt(a[i]); break;
        case ScalarFn::NegMulSq: out[i] = -a[i] * b[i] * b[i]; break;
        case ScalarFn::L2nBackward: {
          T r = std::sqrt(b[i]);
          out[i] = r > T(0) ? -a[i] / (r * (r + p) * (r + p)) : T(0);
          break;
        }
      }
    }
  }

  // Power iteration per matrix while the matrix stays in a core's cache:
  // every iteration, the final u^T X v and the scaled copy read X from L2
  // instead of memory (the plain sequence streams the whole batch 2 niter +
  // 2 times, and each of its GEMVs is memory-bound). Only for batches that
  // fill the threads and matrices of at most 512 KiB; the same arithmetic
  // as the plain sequence (dots in double, 1 / (sqrt(.) + 1e-8)).
  bool fusedPowerIteration(int64_t batch, Mat<const T> X, T* u, T* v, int niter, T eps, T* coef, T* Y) override {
    const int64_t m = X.rows, n = X.cols;
    if (batch < cpuThreads() || double(m) * n * sizeof(T) > 512.0 * 1024) return false;
    using Vec = Eigen::Matrix<T, Dynamic, 1>;
    forEachMatrix(batch, (4.0 * niter + 3) * m * n, [&](int64_t b) {
      auto x = cview(X, b);
      Eigen::Map<Vec> ub(u + b * m, m), vb(v + b * n, n);
      auto normalize = [](auto& w) {
        const T r = T(1) / (std::sqrt(static_cast<T>(dot(w.data(), w.data(), w.size()))) + T(1e-8));
        w *= r;
      };
      for (int it = 0; it < niter; ++it) {
        vb.noalias() = x.transpose() * ub;
        normalize(vb);
        ub.noalias() = x * vb;
        normalize(ub);
      }
      thread_local Vec xv;
      xv.noalias() = x * vb;
      const T c = T(1) / (static_cast<T>(dot(ub.data(), xv.data(), m)) + eps);
      coef[b] = c;
      Eigen::Map<RowMat<T>>(Y + b * m * n, m, n) = c * x;
    });
    return true;
  }

  // The step fused per matrix only where it pays: small matrices stay in
  // cache from the Gram product to the GEMM. Larger ones decline, and
  // ops/bjorck.cpp runs its three primitives (each blocked and parallel).
  bool fusedBjorckStep(int64_t batch, T beta, Mat<const T> W, Mat<T> G, Mat<T> Out) override {
    const int64_t m = W.rows, n = W.cols;
#if ORTHO_SMALL_KERNELS
    if (useSmall(std::min(m, n), std::min(m, n), std::max(m, n))) {
      forEachMatrix(batch, 3.0 * m * n * std::min(m, n), [&](int64_t b) {
        smallBjorckStep(m, n, beta, W.data + b * W.stride, W.ld, G.data + b * G.stride, G.ld,
                        Out.data + b * Out.stride, Out.ld);
      });
      return true;
    }
#endif
    return false;
  }

  // The small kernels recompute a small matrix's Gram in cache for less
  // than keeping it costs: at 4096 x 32 x 32 float, keeping it made the
  // recorded forward 10-15 ms slower (twice that once the context outgrew
  // the block cache) to save 7-20 ms of backward (bench/RESULTS.md).
  bool keepsBjorckGram(int64_t m, int64_t n) override {
    const int64_t k = std::min(m, n);
    return !useSmall(k, k, std::max(m, n));
  }

  // Every unrecorded step of a small matrix before the next matrix: the
  // iterate, its Gram and the next iterate (at most 3 x 64 KiB for float)
  // stay in the core's L1/L2 for all the steps, and the batch is read and
  // written once instead of once per step (at 4096 x 32 x 32, twelve steps
  // streamed 2 x 16 MiB each). The same kernels in the same order as the
  // per-step path.
  bool fusedBjorck(int64_t batch, Mat<const T> X, Mat<T> Y, int steps, T beta, T* const* saves,
                   T* const* grams) override {
    const int64_t m = X.rows, n = X.cols, k = std::min(m, n);
#if ORTHO_SMALL_KERNELS
    if (steps > 0 && useSmall(k, k, std::max(m, n))) {
      forEachMatrix(batch, 3.0 * m * n * k * steps, [&](int64_t b) {
        thread_local std::vector<T> scratch;
        scratch.resize(static_cast<std::size_t>(2 * m * n + k * k));
        T* cur = scratch.data();
        T* next = cur + m * n;
        T* g = next + m * n;
        const T* x = X.data + b * X.stride;
        for (int64_t i = 0; i < m; ++i) std::memcpy(cur + i * n, x + i * X.ld, sizeof(T) * n);
        for (int s = 0; s < steps; ++s) {
          // The last step writes straight into Y.
          T* out = s + 1 == steps ? Y.data + b * Y.stride : next;
          const int64_t ldo = s + 1 == steps ? Y.ld : n;
          smallBjorckStep(m, n, beta, cur, n, g, k, out, ldo);
          if (saves && s + 1 < steps && saves[s + 1]) std::memcpy(saves[s + 1] + b * m * n, out, sizeof(T) * m * n);
          if (grams && grams[s]) std::memcpy(grams[s] + b * k * k, g, sizeof(T) * k * k);
          std::swap(cur, next);
        }
      });
      return true;
    }
#endif
    return false;
  }

  // The backward of every recorded step of a small matrix before the next
  // matrix, for the same reason as fusedBjorck: the gradient, the saved
  // iterate and the two k x k products stay in the core's cache through all
  // the steps (the per-step path streams the batch five times per step).
  // Per step, as ops/bjorck.cpp's stepBackward:
  //   tall: out = g M - beta w S,  S = g^T w + (g^T w)^T
  //   wide: out = M g - beta S w,  S = g w^T + (g w^T)^T
  // with M = (1 + beta) I - beta Gram(w), saved by the forward or (ms
  // null) recomputed.
  bool fusedBjorckBackward(int64_t batch, const T* const* ws, const T* const* ms, int steps, Mat<const T> G,
                           Mat<T> dX, T beta) override {
    const int64_t m = G.rows, n = G.cols, k = std::min(m, n);
    const bool tall = m >= n;
#if ORTHO_SMALL_KERNELS
    if (steps > 0 && useSmall(k, k, std::max(m, n))) {
      forEachMatrix(batch, (ms ? 6.0 : 8.0) * m * n * k * steps, [&](int64_t b) {
        thread_local std::vector<T> scratch;
        scratch.resize(static_cast<std::size_t>(2 * m * n + 2 * k * k));
        T* g = scratch.data();
        T* out = g + m * n;
        T* S = out + m * n;
        T* Mbuf = S + k * k;
        const T* g0 = G.data + b * G.stride;
        for (int64_t i = 0; i < m; ++i) std::memcpy(g + i * n, g0 + i * G.ld, sizeof(T) * n);
        for (int s = steps; s-- > 0;) {
          const T* w = ws[s] + b * m * n;
          const T* M = ms ? ms[s] + b * k * k : Mbuf;
          if (!ms) smallFoldedGram(m, n, beta, w, n, Mbuf, k);
          // The first step (the last one run) writes straight into dX.
          T* o = s == 0 ? dX.data + b * dX.stride : out;
          const int64_t ldo = s == 0 ? dX.ld : n;
          if (tall) {
            smallProduct(m, n, k, T(1), g, n, 1, M, k, 1, T(0), o, ldo);        // g M
            smallProduct(k, n, m, T(1), g, 1, n, w, n, 1, T(0), S, k);          // g^T w
            cpu::symmetrizeSum(k, S, k);
            smallProduct(m, n, k, -beta, w, n, 1, S, k, 1, T(1), o, ldo);       // - beta w S
          } else {
            smallProduct(m, n, m, T(1), M, k, 1, g, n, 1, T(0), o, ldo);        // M g
            smallProduct(m, m, n, T(1), g, n, 1, w, 1, n, T(0), S, k);          // g w^T
            cpu::symmetrizeSum(k, S, k);
            smallProduct(m, n, m, -beta, S, k, 1, w, n, 1, T(1), o, ldo);       // - beta S w
          }
          if (s > 0) std::swap(g, out);
        }
      });
      return true;
    }
#endif
    return false;
  }

  int64_t countNonFinite(int64_t n, const T* x) override {
    constexpr int64_t kGrain = 1 << 16;
    std::atomic<int64_t> total{0};
    parallelFor(n, kGrain, [&](int64_t i0, int64_t i1) {
      // Exponent bits all set = infinity or NaN; integer compares vectorize
      // (std::isfinite does not), and this pass runs on every op's input
      // and output. The common case is all finite: one OR over the chunk
      // (no widening to 64-bit counters; about twice as fast in cache),
      // and the count only where that OR found something.
      using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
      constexpr Bits kExp = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
      auto bits = [x](int64_t i) {
        Bits u;
        std::memcpy(&u, x + i, sizeof u);
        return u & kExp;
      };
      Bits any = 0;
      for (int64_t i = i0; i < i1; ++i) any |= Bits(bits(i) == kExp);
      if (!any) return;
      int64_t c = 0;
      for (int64_t i = i0; i < i1; ++i) c += bits(i) == kExp;
      total += c;
    });
    return total.load();
  }

 private:
  // Reduced QR in place: A (m x n, m >= n) becomes Q, R receives the triangle.
  void qrInPlace(int64_t batch, Mat<T> A, Mat<T> R) {
    const int64_t m = A.rows, n = A.cols;
    const double flops = 4.0 * m * n * n;
    if (n <= cpu::kSmallDim && m <= 8 * cpu::kSmallDim) {
      // Small matrices: the unblocked algorithm in row-major loops, no copies
      // to column-major and no per-call setup.
      parallelFor(batch, std::max<int64_t>(1, int64_t(kParallelFlops / flops)), [&](int64_t b0, int64_t b1) {
        thread_local std::vector<T> scratch;
        scratch.resize(static_cast<std::size_t>(m * n + 2 * n));
        for (int64_t b = b0; b < b1; ++b)
          cpu::smallQr(m, n, A.data + b * A.stride, A.ld, R.data + b * R.stride, R.ld, scratch.data(),
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

  // In-place lower Cholesky of one matrix, the right-looking blocked
  // algorithm of Eigen's llt_inplace::blocked (same block size): factor the
  // diagonal block, solve the panel below it, update the trailing lower
  // triangle. With `split`, the panel solve and the trailing update are
  // split over the threads by rows (equal shares of the triangle). Returns
  // potrf's info: 0, or the order of the first leading minor that fails.
  static int potrfOne(MapM<T> a, bool split) {
    const Index n = a.rows();
    const Index block = std::max<Index>(std::min<Index>(std::max<Index>(n / 8, (n / 16) * 16), 128), 8);
    int info = 0;
    if (!split) {
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
  static void qrOne(Mat<T> A, Mat<T> R, int64_t b, bool split) {
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

  // Products whose every dimension is at most kSmallDim go to the register
  // kernels of small_kernels.h (products with fewer than 8 columns, such as
  // the power iteration's matrix-vector products, stay with Eigen).
  static bool useSmall(int64_t M, int64_t N, int64_t K) {
    return ORTHO_SMALL_KERNELS && M <= cpu::kSmallDim && N <= cpu::kSmallDim && K <= 4 * cpu::kSmallDim && N >= 8;
  }

#if ORTHO_SMALL_KERNELS
  // One Björck step of one small m x n matrix w (row stride ldw) into out:
  // g = -beta Gram(w) (lower tiles, mirrored), + (1 + beta) on the
  // diagonal, then the one product with w (w g when tall, g w when wide).
  static void smallBjorckStep(int64_t m, int64_t n, T beta, const T* w, int64_t ldw, T* g, int64_t ldg, T* out,
                              int64_t ldo) {
    smallFoldedGram(m, n, beta, w, ldw, g, ldg);
    if (m >= n)
      smallProduct(m, n, n, T(1), w, ldw, 1, g, ldg, 1, T(0), out, ldo);
    else
      smallProduct(m, n, m, T(1), g, ldg, 1, w, ldw, 1, T(0), out, ldo);
  }

  // M (k x k, row stride ldm) = (1 + beta) I - beta Gram(w) for one small
  // m x n matrix w, k = min(m, n): w^T w when tall, w w^T when wide (the
  // plain path's syrk with alpha = -beta, then addDiagonal).
  static void smallFoldedGram(int64_t m, int64_t n, T beta, const T* w, int64_t ldw, T* M, int64_t ldm) {
    const int64_t k = std::min(m, n);
    smallSyrk(-beta, w, ldw, m >= n ? Op::T : Op::N, k, std::max(m, n), T(0), M, ldm);
    for (int64_t i = 0; i < k; ++i) M[i * ldm + i] += T(1) + beta;
  }

  // C (M x N) = alpha A' B' + beta C on the small kernels, A'(i, r) =
  // a[i * sai + r * sak], B'(r, j) = b[r * sbk + j * sbj] (read in place
  // when its rows are whole register tiles, else packed). lowerOnly: as
  // smallGemm's.
  static void smallProduct(int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t sai, int64_t sak,
                           const T* b, int64_t sbk, int64_t sbj, T beta, T* c, int64_t ldc, bool lowerOnly = false) {
    thread_local std::vector<T> pack;
    int64_t ldb;
    const T* rows = cpu::rowsOf(K, N, b, sbk, sbj, pack, ldb);
    cpu::smallGemm(M, N, K, alpha, a, sai, sak, rows, ldb, beta, c, ldc, lowerOnly);
  }

  // C = alpha op(A) op(A)^T + beta C for one M x M matrix C (op(A): M x K),
  // lower register tiles then a mirror: both triangles written.
  static void smallSyrk(T alpha, const T* a, int64_t lda, Op opA, int64_t M, int64_t K, T beta, T* c, int64_t ldc) {
    // A' = op(A); B'(k, j) = op(A)(j, k): rows of A when op(A) = A^T, else A transposed.
    const bool t = opA == Op::T;
    smallProduct(M, M, K, alpha, a, t ? 1 : lda, t ? lda : 1, a, t ? lda : 1, t ? 1 : lda, beta, c, ldc, true);
    cpu::mirrorLower(M, c, ldc);
  }
#endif

  template <int SideMode, typename A_, typename B_>
  static void solve(const A_& a, Uplo uplo, Op opA, B_& b) {
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

  // Sum of x[k] y[k] in double, in eight interleaved partial sums (a
  // single running sum is a dependency chain the compiler may not reorder,
  // so it would neither vectorize nor pipeline), added pairwise at the end.
  static double dot(const T* x, const T* y, int64_t n) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t k = 0;
    for (; k + 8 <= n; k += 8)
      for (int l = 0; l < 8; ++l) acc[l] += double(x[k + l]) * double(y[k + l]);
    for (int l = 0; k < n; ++k, ++l) acc[l] += double(x[k]) * double(y[k]);
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  }

  // Runs fn(t, group, k0, k1) for chunk t = group * C + c (C chunks per
  // group) of G contiguous groups of S elements: elements [k0, k1) of the
  // group, chunks of kReduceChunk elements (the last one shorter), in
  // parallel. The chunks depend on S only.
  template <typename Fn>
  static void forEachChunk(int64_t G, int64_t S, Fn&& fn) {
    const int64_t C = (S + kReduceChunk - 1) / kReduceChunk;
    parallelFor(G * C, std::max<int64_t>(1, int64_t(kParallelFlops / std::min(S, kReduceChunk))),
                [&](int64_t t0, int64_t t1) {
                  for (int64_t t = t0; t < t1; ++t) {
                    const int64_t i = t / C, k0 = (t % C) * kReduceChunk;
                    fn(t, i, k0, std::min(S, k0 + kReduceChunk));
                  }
                });
  }

  // Runs fn(b) for every matrix, in parallel when the total is large.
  template <typename Fn>
  static void forEachMatrix(int64_t batch, double workEach, Fn&& fn) {
    parallelFor(batch, std::max<int64_t>(1, int64_t(4 * kParallelFlops / std::max(workEach, 1.0))),
                [&](int64_t b0, int64_t b1) {
                  for (int64_t b = b0; b < b1; ++b) fn(b);
                });
  }

  // C's lower triangle (with the diagonal) times beta, zeroed for beta = 0,
  // row by row: contiguous in the row-major views (Eigen's triangular
  // assignment walks columns, one cache miss per element).
  template <typename D>
  static void scaleLower(D&& d, T beta) {
    if (beta == T(1)) return;
    for (Index i = 0; i < d.rows(); ++i) {
      auto row = d.row(i).head(i + 1);
      if (beta == T(0)) row.setZero();
      else row *= beta;
    }
  }

  static void mirrorLower(int64_t batch, Mat<T> A) {
    forEachMatrix(batch, double(A.rows) * A.cols,
                  [&](int64_t b) { cpu::mirrorLower(A.rows, A.data + b * A.stride, A.ld); });
  }

  // Visits elements in memory order with their group index.
  template <typename Fn>
  static void forEachElement(const GroupLayout& g, Fn&& fn) {
    const std::size_t nd = g.sizes.size();
    std::vector<int64_t> gstride(nd, 0), idx(nd, 0);
    int64_t s = 1;
    for (std::size_t d = nd; d-- > 0;)
      if (!g.reduce[d]) {
        gstride[d] = s;
        s *= g.sizes[d];
      }
    const int64_t total = g.numel();
    int64_t grp = 0;
    for (int64_t i = 0; i < total; ++i) {
      fn(i, grp);
      for (std::size_t d = nd; d-- > 0;) {
        if (++idx[d] < g.sizes[d]) {
          grp += gstride[d];
          break;
        }
        grp -= gstride[d] * (g.sizes[d] - 1);
        idx[d] = 0;
      }
    }
  }
};

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::cpu(); }

  void* allocate(std::size_t bytes) override { return cache_.allocate(bytes); }
  void deallocate(void* p, std::size_t bytes) noexcept override { cache_.deallocate(p, bytes); }
  void copyToHost(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copyFromHost(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copyOnDevice(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void synchronize() override {}
  std::unique_lock<std::mutex> lockForOperation() override { return {}; }
  Primitives<float>& f32() override { return f32_; }
  Primitives<double>& f64() override { return f64_; }

 private:
  // Leaked on purpose: tensors released during process exit may outlive
  // static destructors and still hand their blocks back.
  BlockCache& cache_ = *new BlockCache;
  CpuPrimitives<float> f32_;
  CpuPrimitives<double> f64_;
};

}  // namespace

Backend& cpuBackend() {
  static CpuBackend backend;
  return backend;
}

std::string cpuBackendDetail() {
  std::ostringstream os;
  os << "Eigen " << EIGEN_WORLD_VERSION << '.' << EIGEN_MAJOR_VERSION << '.' << EIGEN_MINOR_VERSION << " ("
     << Eigen::SimdInstructionSetsInUse() << ")";
  return os.str();
}

}  // namespace ortho
