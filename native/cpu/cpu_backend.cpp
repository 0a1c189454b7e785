#include "cpu_backend.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>
#include <vector>

#define EIGEN_DONT_PARALLELIZE  // parallelism comes from our pool, not OpenMP
#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/QR>
#include <Eigen/SVD>

#include "../core/parallel.h"

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
          if (beta == T(0)) d.template triangularView<Eigen::Lower>().setZero();
          else if (beta != T(1)) d.template triangularView<Eigen::Lower>() *= beta;
          d.template selfadjointView<Eigen::Lower>().rankUpdate(ar, alpha);
        } else {
          auto ar = a.middleCols(r0, h);
          if (r0 > 0) gemmKernel<true, false>(alpha, ar, a.leftCols(r0), beta, c.block(r0, 0, h, r0));
          auto d = c.block(r0, r0, h, h);
          if (beta == T(0)) d.template triangularView<Eigen::Lower>().setZero();
          else if (beta != T(1)) d.template triangularView<Eigen::Lower>() *= beta;
          d.template selfadjointView<Eigen::Lower>().rankUpdate(ar.transpose(), alpha);
        }
      }
    });
    mirrorLower(batch, C);
  }

  void potrf(int64_t batch, Mat<T> A, int* info) override {
    const double n = static_cast<double>(A.rows);
    parallelFor(batch, std::max<int64_t>(1, int64_t(3 * kParallelFlops / (n * n * n))), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        auto a = view(A, b);
        // Eigen's blocked in-place LLT reports the failing pivot, which the
        // public LLT class does not expose.
        Index k = Eigen::internal::llt_inplace<T, Eigen::Lower>::blocked(a);
        info[b] = k < 0 ? 0 : static_cast<int>(k + 1);
        a.template triangularView<Eigen::StrictlyUpper>().setZero();
      }
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

  void qr(int64_t batch, Mat<T> A, Mat<T> R) override {
    const int64_t m = A.rows, n = A.cols;
    const double flops = 4.0 * m * n * n;
    parallelFor(batch, std::max<int64_t>(1, int64_t(kParallelFlops / flops)), [&](int64_t b0, int64_t b1) {
      ColMat<T> work(m, n), q(m, n);
      for (int64_t b = b0; b < b1; ++b) {
        auto a = view(A, b);
        work = a;
        Eigen::HouseholderQR<Eigen::Ref<ColMat<T>>> h(work);
        auto r = view(R, b);
        r = h.matrixQR().topRows(n).template triangularView<Eigen::Upper>();
        q.setIdentity();
        q.applyOnTheLeft(h.householderQ());
        a = q;
      }
    });
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
      parallelFor(G, std::max<int64_t>(1, int64_t(kParallelFlops / S)), [&](int64_t g0, int64_t g1) {
        for (int64_t i = g0; i < g1; ++i) out[i] = static_cast<T>(dot(x + i * S, y + i * S, S));
      });
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
      parallelFor(G, std::max<int64_t>(1, int64_t(kParallelFlops / S)), [&](int64_t g0, int64_t g1) {
        for (int64_t i = g0; i < g1; ++i) {
          const T ai = a[i];
          const T* xs = x + i * S;
          T* os = out + i * S;
          if (y) {
            const T bi = b[i];
            const T* ys = y + i * S;
            for (int64_t k = 0; k < S; ++k) os[k] = ai * xs[k] + bi * ys[k];
          } else {
            for (int64_t k = 0; k < S; ++k) os[k] = ai * xs[k];
          }
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

  int64_t countNonFinite(int64_t n, const T* x) override {
    constexpr int64_t kGrain = 1 << 16;
    std::atomic<int64_t> total{0};
    parallelFor(n, kGrain, [&](int64_t i0, int64_t i1) {
      int64_t c = 0;
      for (int64_t i = i0; i < i1; ++i) c += !std::isfinite(x[i]);
      total += c;
    });
    return total.load();
  }

 private:
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

  static double dot(const T* x, const T* y, int64_t n) {
    double s = 0;
    if (x == y) {
      for (int64_t k = 0; k < n; ++k) s += double(x[k]) * double(x[k]);
    } else {
      for (int64_t k = 0; k < n; ++k) s += double(x[k]) * double(y[k]);
    }
    return s;
  }

  // Runs fn(b) for every matrix, in parallel when the total is large.
  template <typename Fn>
  static void forEachMatrix(int64_t batch, double workEach, Fn&& fn) {
    parallelFor(batch, std::max<int64_t>(1, int64_t(4 * kParallelFlops / std::max(workEach, 1.0))),
                [&](int64_t b0, int64_t b1) {
                  for (int64_t b = b0; b < b1; ++b) fn(b);
                });
  }

  static void mirrorLower(int64_t batch, Mat<T> A) {
    forEachMatrix(batch, double(A.rows) * A.cols, [&](int64_t b) {
      auto a = view(A, b);
      for (Index i = 0; i < a.rows(); ++i)
        for (Index j = i + 1; j < a.cols(); ++j) a(i, j) = a(j, i);
    });
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

  void* allocate(std::size_t bytes) override {
    // 64-byte alignment keeps Eigen's vector loads aligned for every row of
    // a dense matrix whose row length is a multiple of 16 floats.
    std::size_t rounded = (bytes + 63) & ~std::size_t(63);
    void* p = std::aligned_alloc(64, rounded ? rounded : 64);
    if (!p)
      fail(code::kOutOfMemory, ErrorKind::Error, "out of host memory allocating ", bytes, " bytes");
    return p;
  }
  void deallocate(void* p, std::size_t) noexcept override { std::free(p); }
  void copyToHost(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copyFromHost(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copyOnDevice(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void synchronize() override {}
  std::unique_lock<std::mutex> lockForOperation() override { return {}; }
  Primitives<float>& f32() override { return f32_; }
  Primitives<double>& f64() override { return f64_; }

 private:
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
