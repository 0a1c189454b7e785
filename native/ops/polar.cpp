// BatchedPolarOrthogonalization: Q = U V^T for W = U S V^T (orthonormal
// columns for tall W, rows for wide), by matrix products only.
//
// Forward (wide inputs are transposed first, so X is p x k with p >= k):
//   1. X = W / ||W||_F; A = X^T X; A2 = A A; s = 1.01 ||A2||_F^(1/4). Since
//      ||A^2||_F^(1/4) >= sigma_max(A^2)^(1/4) = sigma_max(X), s never
//      underestimates sigma_max, and it overestimates it by at most
//      1.01 k^(1/8). X /= s, A /= s^2, A2 /= s^4 (A and A2 are reused).
//   2. For each (a, b, c) of the schedule (polarSchedule):
//      X <- X (a I + b A + c A2), then A = X^T X, A2 = A A. Each step maps
//      every singular value x through p(x) = a x + b x^3 + c x^5 and keeps
//      the singular vectors, so the composed polynomials carry [l0, 1] to
//      [1 - E, 1 + E].
//   3. The residual r = ||X^T X - I||_F / sqrt(k) per matrix (from the A the
//      next step needs anyway); while some r > tol, one more Newton-Schulz
//      quintic step (1.875, -1.25, 0.375), then check again. A matrix whose
//      r fails to halve in kStallChecks consecutive checks has stalled (rank
//      deficiency, or sigma_min / sigma_max so far below the schedule's range
//      that the tail's 1.875x growth per step cannot lift it in time).
//   The residual is read back to the host only after the schedule and once
//   per tail step.
//   Where the backend has the fused kernel (PolarKernels,
//   ops/polar_kernels.h: the CPU, for small matrices), each
//   matrix runs these steps on its own, in cache, stopping where it is done
//   (PolarTrack); matrices that stopped before the latest then continue to
//   it and until done there (then again, until all agree): the same steps,
//   checks and stop as the batched sequence, with the batch read and
//   written once.
//
// precision 'tf32' / 'bf16' (float32 where the backend has reduced-precision
// products, i.e. on a GPU; elsewhere, and for float64, nothing changes): the
// schedule's steps but the last run their products in that precision. The
// scaling (whose margin must hold: an underestimate of sigma_max would
// break the schedule), the last schedule step, the residual checks and the
// tail are float32, so the result meets tol as in float32 (a tail step is
// added where the rounding left more than the schedule does). The rounding
// also perturbs the singular vectors, which no later step restores: the
// result is the polar factor of a perturbed input (README, "Reduced
// precision", has the measured distances).
//
// Stalls: by default (onStall 'error') the forward throws
// ERR_ORTHO_RANK_DEFICIENT naming the matrices, their residuals and tol;
// with onStall 'flag' it returns the result and the diagnostics list the
// stalled matrices (converged false). A matrix whose residual right after
// the schedule exceeds what the schedule guarantees for inputs in its range
// had sigma_min / sigma_max below it: it is listed in belowLowerBound even
// when the tail then converges (in float32 a rank-deficient input can
// converge to one of many orthonormal completions: a valid nearest
// orthonormal matrix, but not a unique one, and the gradient is undefined).
//
// Backward (docs/polar.md has the derivation). With X = Q H (H = Q^T X,
// symmetric positive definite), G = dL/dQ, the VJP is
//   dX = Q Y + (I - Q Q^T) G H^{-1},   where   H Y + Y H = Q^T G - G^T Q.
// (Square X: the second term vanishes.) The Sylvester equation is solved by
// the same polynomial iteration applied to the block matrix
// M = [[H, C], [0, -H]] (C = Q^T G - G^T Q): sign(M) = [[I, 2Y], [0, -I]].
// Writing M_t = [[P, R], [0, -P]], M_t^2 = [[B, D], [0, B]] with B = P^2,
// D = P R - R P, and an odd p(M) = M q(M^2), q(y) = a + b y + c y^2:
//   q(M^2) = [[q(B), b D + c (B D + D B)], [0, q(B)]],
//   P <- P q(B),   R <- P (b D + c (B D + D B)) + R q(B).
// The product F of the q(B) gives H^{-1} = F / s_total for the tall term.
// Only X, Q and a handful of k x k matrices are kept: memory is flat in the
// number of iterations.
#include "polar.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "common.h"
#include "fused.h"
#include "module_registry.h"
#include "polar_kernels.h"

namespace ortho::ops {

// ---------------------------------------------------------------------------
// The schedule.

namespace {

constexpr double kSafety = 1.01;   // p(x / 1.01): robust to rounding (Polar Express, Sec. 4)
constexpr double kCushion = 0.02407327424182761;  // the paper's cushion: optimize on [max(l, 0.024 u), u]
constexpr double kScheduleEnd = 1e-2;  // the schedule ends once 1 - l <= this
constexpr Quintic kNewtonSchulz = {1.875, -1.25, 0.375};

double peval(const Quintic& q, double x) { return x * (q[0] + x * x * (q[1] + x * x * q[2])); }

// Solves the 4 x 4 system M z = rhs by Gaussian elimination with partial
// pivoting (M row-major, overwritten).
bool solve4(double M[4][4], double rhs[4], double z[4]) {
  for (int c = 0; c < 4; ++c) {
    int piv = c;
    for (int r = c + 1; r < 4; ++r)
      if (std::fabs(M[r][c]) > std::fabs(M[piv][c])) piv = r;
    if (M[piv][c] == 0) return false;
    std::swap(M[c], M[piv]);
    std::swap(rhs[c], rhs[piv]);
    for (int r = c + 1; r < 4; ++r) {
      const double f = M[r][c] / M[c][c];
      for (int j = c; j < 4; ++j) M[r][j] -= f * M[c][j];
      rhs[r] -= f * rhs[c];
    }
  }
  for (int r = 3; r >= 0; --r) {
    double s = rhs[r];
    for (int j = r + 1; j < 4; ++j) s -= M[r][j] * z[j];
    z[r] = s / M[r][r];
  }
  return true;
}

// The odd quintic minimizing max |1 - p(x)| over [l, u], by the Remez
// exchange: 1 - p equioscillates (+E, -E, +E, -E) at l, x1, x2, u.
Quintic minimaxQuintic(double l, double u) {
  const double lam = l / u;
  if (1 - lam < 1e-5) return kNewtonSchulz;  // the limit of a vanishing interval
  double x1 = lam + (1 - lam) * 0.25, x2 = lam + (1 - lam) * 0.75;
  double a = 0, b = 0, c = 0;
  for (int it = 0; it < 100; ++it) {
    const double xs[4] = {lam, x1, x2, 1.0}, sgn[4] = {1, -1, 1, -1};
    double M[4][4], rhs[4] = {1, 1, 1, 1}, z[4];
    for (int i = 0; i < 4; ++i) {
      M[i][0] = xs[i];
      M[i][1] = xs[i] * xs[i] * xs[i];
      M[i][2] = M[i][1] * xs[i] * xs[i];
      M[i][3] = sgn[i];
    }
    if (!solve4(M, rhs, z)) break;
    a = z[0], b = z[1], c = z[2];
    // New interior extrema of 1 - p: roots of p'(x) = a + 3 b x^2 + 5 c x^4.
    const double disc = 9 * b * b - 20 * a * c;
    if (disc <= 0 || c == 0) break;
    const double r = std::sqrt(disc);
    double y1 = (-3 * b - r) / (10 * c), y2 = (-3 * b + r) / (10 * c);
    if (y1 > y2) std::swap(y1, y2);
    if (y1 <= 0) break;
    const double n1 = std::sqrt(y1), n2 = std::sqrt(y2);
    if (!(lam < n1 && n1 < n2 && n2 < 1)) break;
    const bool done = std::fabs(n1 - x1) + std::fabs(n2 - x2) < 1e-15;
    x1 = n1, x2 = n2;
    if (done) break;
  }
  return {a / u, b / (u * u * u), c / (u * u * u * u * u)};
}

}  // namespace

std::vector<Quintic> polarSchedule(double lowerBound) {
  if (!(lowerBound > 0 && lowerBound < 1))
    fail(code::kInvalidArg, ErrorKind::RangeError, "lowerBound must be a number in (0, 1), got ", lowerBound);
  std::vector<Quintic> out;
  double l = lowerBound, u = 1;
  while (1 - l > kScheduleEnd && out.size() < 64) {
    Quintic q = minimaxQuintic(std::max(l, kCushion * u), u);
    // Recentre so that p(l) + p(u) = 2: the image is [p(l), 2 - p(l)].
    const double r = 2 / (peval(q, l) + peval(q, u));
    for (double& v : q) v *= r;
    l = peval(q, l);
    u = 2 - l;
    out.push_back(q);
  }
  for (Quintic& q : out) {
    q[0] /= kSafety;
    q[1] /= kSafety * kSafety * kSafety;
    q[2] /= kSafety * kSafety * kSafety * kSafety * kSafety;
  }
  return out;
}

namespace {

// The largest |phi(x)^2 - 1| over x in [lowerBound, 1], phi the composed
// schedule: the residual every matrix whose scaled singular values lie in
// that range has after the schedule (in exact arithmetic).
double scheduleResidualBound(const std::vector<Quintic>& sched, double lowerBound) {
  double worst = 0;
  const int n = 4000;
  for (int i = 0; i <= n; ++i) {
    // Log-spaced over [lowerBound, 1], plus a linear sweep of the top decade.
    for (double x : {lowerBound * std::pow(1 / lowerBound, double(i) / n), 0.1 + 0.9 * double(i) / n}) {
      if (x < lowerBound) continue;
      double y = x;
      for (const Quintic& q : sched) y = peval(q, y);
      worst = std::max(worst, std::fabs(y * y - 1));
    }
  }
  return worst;
}

// The tolerance used when none is given: near each dtype's floor (the
// residual of float32 products stalls at 2e-7 to 1e-6 on the measured
// shapes; float64's at 1e-15 to 1e-14).
template <typename T>
double defaultTol() {
  return std::is_same_v<T, float> ? 4e-6 : 1e-13;
}

// The stall rule (PolarTrack, ops/polar_kernels.h): a matrix stalls after this
// many checks that did not halve its residual.
constexpr int kStallChecks = PolarTrack::kStallChecks;

class Polar final : public OpModule {
 public:
  Polar(const Shape& weightShape, const Options& o)
      : OpModule(weightShape, o.flag("requiresGrad")),
        tol_(o.has("tol") ? o.number("tol") : std::numeric_limits<double>::quiet_NaN()),
        maxIters_(o.integer("maxIters")),
        lowerBound_(o.number("lowerBound")),
        flagStalls_(o.text("onStall") == "flag"), precision_(parsePrecision(o.text("precision"))) {
    if (!(std::isnan(tol_) || (tol_ > 0 && std::isfinite(tol_))))
      fail(code::kInvalidArg, ErrorKind::RangeError, "tol must be a positive finite number, got ", tol_);
    if (maxIters_ < 1) fail(code::kInvalidArg, ErrorKind::RangeError, "maxIters must be an integer >= 1, got ", maxIters_);
    if (o.text("onStall") != "error" && o.text("onStall") != "flag")
      fail(code::kInvalidArg, ErrorKind::RangeError, "onStall must be 'error' or 'flag', got '", o.text("onStall"), "'");
    schedule_ = polarSchedule(lowerBound_);
    scheduleBound_ = scheduleResidualBound(schedule_, lowerBound_);
  }
  const char* name() const override { return "BatchedPolarOrthogonalization"; }

  PolarDiagnostics diagnostics() {
    std::lock_guard<std::mutex> g(mutex_);
    return diag_;
  }

 protected:
  Pending forwardImpl(const TensorPtr& x, bool record) override {
    return dispatchDtype(x->dtype(), [&](auto tag) {
      using T = decltype(tag);
      Env<T> e(*x);
      const MatrixDims d = x->dims();
      const bool tall = d.m >= d.n;
      const int64_t p = std::max(d.m, d.n), k = std::min(d.m, d.n), B = d.batch;
      const double tol = std::isnan(tol_) ? defaultTol<T>() : tol_;

      PolarDiagnostics dg;
      dg.valid = true;
      dg.tol = tol;
      std::vector<PolarTrack> tr(B);
      const int scheduleSteps = std::min<int>(static_cast<int>(schedule_.size()), maxIters_);
      int iters = 0;
      TensorPtr y;

      // Every matrix on its own, from the input to its result, where the
      // backend has it (the CPU, for small matrices): each runs its steps
      // until it is done (PolarTrack::done). The batch stops at the first
      // check where every matrix is done, so matrices done before the
      // latest then continue, at least that far and until done again; the
      // same steps and checks as the batched sequence below.
      std::vector<double> coefs;
      for (const Quintic& q : schedule_) coefs.insert(coefs.end(), q.begin(), q.end());
      PolarPlan plan;
      plan.schedule = coefs.data();
      plan.scheduleSteps = scheduleSteps;
      plan.tail = kNewtonSchulz.data();
      plan.maxIters = maxIters_;
      plan.tol = tol;
      plan.safety = kSafety;
      TensorPtr fusedOut = e.empty(x->shape());
      auto* kernels = fused<PolarKernels<T>>(e.p);
      if (kernels && kernels->forward(B, nullptr, x->mat<T>(), fusedOut->template mat<T>(), !tall, plan, tr.data())) {
        std::vector<int64_t> behind;
        for (;;) {
          int most = 0;
          for (const PolarTrack& t : tr) most = std::max(most, t.checks);
          behind.clear();
          for (int64_t b = 0; b < B; ++b)
            if (tr[b].checks < most) behind.push_back(b);
          if (behind.empty()) break;
          plan.untilChecks = most;
          if (!kernels->forward(static_cast<int64_t>(behind.size()), behind.data(), fusedOut->template mat<T>(),
                                fusedOut->template mat<T>(), !tall, plan, tr.data()))
            fail(code::kInternal, ErrorKind::Error, name(), ": the backend declined to continue its fused forward");
        }
        iters = scheduleSteps + tr[0].checks - 1;
        y = fusedOut;
      } else {
        TensorPtr X = batchedForward(e, *x, fusedOut->reshape({B, p, k}), tr, tol, scheduleSteps);
        iters = scheduleSteps + tr[0].checks - 1;
        if (tall) {
          y = X;
          if (x->shape() != y->shape()) y = y->reshape(x->shape());
        } else {
          y = e.empty(x->shape());
          e.p.copy(B, X->template mat<T>(), Op::T, y->template mat<T>());
        }
      }

      std::vector<double> r(B);
      for (int64_t b = 0; b < B; ++b) {
        r[b] = tr[b].r;
        if (std::isfinite(tr[b].first) && tr[b].first > 1.5 * scheduleBound_ + 1e-4 &&
            scheduleSteps == static_cast<int>(schedule_.size()))
          dg.belowLowerBound.push_back(b);
      }
      dg.iterations = iters;
      dg.residuals = r;
      dg.converged = true;
      for (int64_t b = 0; b < B; ++b) {
        dg.residual = std::max(dg.residual, std::isnan(r[b]) ? std::numeric_limits<double>::infinity() : r[b]);
        if (!(r[b] <= tol)) {
          dg.converged = false;
          dg.stalled.push_back(b);
        }
      }
      if (!dg.converged && !flagStalls_) {
        std::ostringstream os;
        const std::size_t show = std::min<std::size_t>(dg.stalled.size(), 5);
        for (std::size_t i = 0; i < show; ++i)
          os << (i ? ", " : "") << "matrix " << dg.stalled[i] << " at " << r[dg.stalled[i]];
        if (dg.stalled.size() > show) os << ", and " << dg.stalled.size() - show << " more";
        fail(code::kRankDeficient, ErrorKind::Error, name(), ": the residual ||QᵀQ - I||_F/sqrt(k) stalled above tol ",
             tol, " after ", iters, " iterations (", os.str(),
             "): the input is rank-deficient, or its sigma_min/sigma_max is below what lowerBound ", lowerBound_,
             " and maxIters ", maxIters_,
             " reach. Lower lowerBound, raise maxIters or tol, or pass onStall: 'flag' to get the result with "
             "the stalled matrices listed in the diagnostics");
      }

      return Pending{y, [this, dg = std::move(dg), record, x, y]() mutable {
                       diag_ = std::move(dg);
                       if (!record) return;
                       savedX_ = x;
                       savedQ_ = y;
                     }};
    });
  }

  TensorPtr backwardImpl(const TensorPtr& g) override {
    return dispatchDtype(g->dtype(), [&](auto tag) {
      using T = decltype(tag);
      Env<T> e(*g);
      const MatrixDims d = g->dims();
      const bool tall = d.m >= d.n;
      const int64_t p = std::max(d.m, d.n), k = std::min(d.m, d.n), B = d.batch;
      const double tol = std::isnan(tol_) ? defaultTol<T>() : tol_;
      // Everything in the tall orientation (p x k).
      auto oriented = [&](const TensorPtr& t) -> TensorPtr {
        if (tall) return t;
        TensorPtr o = e.empty({B, p, k});
        e.p.copy(B, t->template mat<T>(), Op::T, o->template mat<T>());
        return o;
      };
      TensorPtr X = oriented(savedX_), Q = oriented(savedQ_), G = oriented(g);
      auto kk = [&] { return e.empty({B, k, k}); };
      TensorPtr H = kk(), P = kk(), R = kk(), S0 = kk(), Bm = kk(), Qm = kk(), D = kk(), T1 = kk(), E = kk(),
                Pn = kk(), Rn = kk();
      const GroupLayout gK = GroupLayout::perMatrix(B, k * k);
      TensorPtr dev = e.empty({2 * B});
      T* dv = dev->template data<T>();
      std::vector<T> h(2 * B);
      auto download = [&](int64_t n) { e.be.copyToHost(h.data(), dv, n * sizeof(T)); };
      auto upload = [&](int64_t n) { e.be.copyFromHost(dv, h.data(), n * sizeof(T)); };
      auto M = [](const TensorPtr& t) { return t->template mat<T>(); };

      // H = sym(Q^T X); C = Q^T G - G^T Q (into R).
      e.p.gemm(B, T(1), M(Q), Op::T, M(X), Op::N, T(0), M(T1));
      e.p.addTransposed(B, T(0.5), M(T1), T(0.5), M(H));
      e.p.gemm(B, T(1), M(Q), Op::T, M(G), Op::N, T(0), M(S0));
      e.p.addTransposed(B, T(1), M(S0), T(-1), M(R));

      // Scaling: P = H / t, R = C / t with t = ||H||_F * 1.01 ||(H/||H||_F)^4||_F^(1/4).
      std::vector<double> tot(B);
      e.p.groupDot(gK, H->template data<T>(), H->template data<T>(), dv);
      download(B);
      for (int64_t b = 0; b < B; ++b) {
        tot[b] = h[b] > 0 ? std::sqrt(double(h[b])) : 1.0;
        h[b] = T(1 / tot[b]);
      }
      upload(B);
      e.p.groupScale(gK, dv, H->template data<T>(), nullptr, nullptr, P->template data<T>());
      e.p.gemm(B, T(1), M(P), Op::N, M(P), Op::N, T(0), M(Bm));
      e.p.gemm(B, T(1), M(Bm), Op::N, M(Bm), Op::N, T(0), M(Qm));
      e.p.groupDot(gK, Qm->template data<T>(), Qm->template data<T>(), dv);
      download(B);
      for (int64_t b = 0; b < B; ++b) {
        const double sc = h[b] > 0 ? kSafety * std::pow(double(h[b]), 0.125) : 1.0;
        tot[b] *= sc;
        h[b] = T(1 / sc);
        h[B + b] = T(1 / tot[b]);
      }
      upload(2 * B);
      e.p.groupScale(gK, dv, P->template data<T>(), nullptr, nullptr, P->template data<T>());
      e.p.groupScale(gK, dv + B, R->template data<T>(), nullptr, nullptr, R->template data<T>());
      TensorPtr F;
      if (p > k) {
        F = kk();
        e.p.fill(B, M(F), T(0));
        e.p.addDiagonal(B, M(F), T(1));
      }

      auto step = [&](const Quintic& q) {
        const T a = T(q[0]), b = T(q[1]), c = T(q[2]);
        e.p.gemm(B, T(1), M(P), Op::N, M(P), Op::N, T(0), M(Bm));                 // B = P^2
        e.p.gemm(B, T(1), M(P), Op::N, M(R), Op::N, T(0), M(T1));                 // P R
        e.p.addTransposed(B, T(1), M(T1), T(1), M(D));                            // D = P R - R P (R skew)
        e.p.gemm(B, T(1), M(Bm), Op::N, M(Bm), Op::N, T(0), M(Qm));               // B^2
        e.p.axpby(B, b, M(Bm), c, M(Qm));
        e.p.addDiagonal(B, M(Qm), a);                                             // q(B)
        e.p.gemm(B, T(1), M(Bm), Op::N, M(D), Op::N, T(0), M(T1));                // B D
        e.p.addTransposed(B, c, M(T1), c, M(E));                                  // c (B D + D B)
        e.p.axpby(B, b, M(D), T(1), M(E));                                        // + b D
        e.p.gemm(B, T(1), M(P), Op::N, M(Qm), Op::N, T(0), M(Pn));
        e.p.gemm(B, T(1), M(P), Op::N, M(E), Op::N, T(0), M(Rn));
        e.p.gemm(B, T(1), M(R), Op::N, M(Qm), Op::N, T(1), M(Rn));
        if (F) {
          e.p.gemm(B, T(1), M(F), Op::N, M(Qm), Op::N, T(0), M(T1));
          std::swap(F, T1);
        }
        std::swap(P, Pn);
        std::swap(R, Rn);
      };
      int iters = 0;
      for (const Quintic& q : schedule_) {
        step(q);
        ++iters;
      }
      // Tail: until ||P^2 - I|| / sqrt(k) and ||P R - R P|| / ||R|| are at tol, or stall.
      std::vector<double> prev(B, std::numeric_limits<double>::infinity());
      std::vector<int> noGain(B, 0);
      const int maxBackward = maxIters_ + 10;
      for (;;) {
        e.p.gemm(B, T(1), M(P), Op::N, M(P), Op::N, T(0), M(Bm));
        e.p.addDiagonal(B, M(Bm), T(-1));
        e.p.gemm(B, T(1), M(P), Op::N, M(R), Op::N, T(0), M(T1));
        e.p.addTransposed(B, T(1), M(T1), T(1), M(D));
        e.p.groupDot(gK, Bm->template data<T>(), Bm->template data<T>(), dv);
        download(B);
        std::vector<double> rp(B);
        for (int64_t b = 0; b < B; ++b) rp[b] = std::sqrt(std::max(0.0, double(h[b])) / double(k));
        e.p.groupDot(gK, D->template data<T>(), D->template data<T>(), dv);
        e.p.groupDot(gK, R->template data<T>(), R->template data<T>(), dv + B);
        download(2 * B);
        bool allDone = true;
        for (int64_t b = 0; b < B; ++b) {
          const double nr = std::sqrt(std::max(0.0, double(h[B + b])));
          const double rd = nr > 0 ? std::sqrt(std::max(0.0, double(h[b]))) / nr : 0.0;
          const double r = std::max(rp[b], rd);
          if (r <= tol || noGain[b] >= kStallChecks) continue;
          noGain[b] = r > 0.5 * prev[b] ? noGain[b] + 1 : 0;
          prev[b] = r;
          if (noGain[b] < kStallChecks) allDone = false;
        }
        if (allDone || iters >= maxBackward) break;
        step(kNewtonSchulz);
        ++iters;
      }

      // dX = Q Y + (G - Q (Q^T G)) H^{-1}, Y = (R - R^T) / 4, H^{-1} = F / t.
      e.p.addTransposed(B, T(0.25), M(R), T(-0.25), M(E));
      TensorPtr dX = e.empty({B, p, k});
      if (F) {
        for (int64_t b = 0; b < B; ++b) h[b] = T(1 / tot[b]);
        upload(B);
        e.p.groupScale(gK, dv, F->template data<T>(), nullptr, nullptr, F->template data<T>());
        TensorPtr Gp = e.empty({B, p, k});
        e.p.copy(B, M(G), Op::N, M(Gp));
        e.p.gemm(B, T(-1), M(Q), Op::N, M(S0), Op::N, T(1), M(Gp));
        e.p.gemm(B, T(1), M(Gp), Op::N, M(F), Op::N, T(0), M(dX));
        e.p.gemm(B, T(1), M(Q), Op::N, M(E), Op::N, T(1), M(dX));
      } else {
        e.p.gemm(B, T(1), M(Q), Op::N, M(E), Op::N, T(0), M(dX));
      }
      if (tall) return dX->reshape(g->shape());
      TensorPtr out = e.empty(g->shape());
      e.p.copy(B, M(dX), Op::T, out->template mat<T>());
      return out;
    });
  }

  // The forward as a sequence of batched primitives: x in the tall
  // orientation into `X` (dense B x p x k), the steps on the whole batch,
  // a check of every matrix after the schedule and after each tail step
  // (tr), until every matrix is done or the steps reach maxIters. Returns
  // the tensor holding the result (X or a buffer of the same shape).
  template <typename T>
  TensorPtr batchedForward(Env<T>& e, const TensorImpl& x, TensorPtr X, std::vector<PolarTrack>& tr, double tol,
                           int scheduleSteps) const {
    const MatrixDims d = x.dims();
    const bool tall = d.m >= d.n;
    const int64_t p = std::max(d.m, d.n), k = std::min(d.m, d.n), B = d.batch;
    TensorPtr Y = e.empty({B, p, k});
    TensorPtr A = e.empty({B, k, k}), A2 = e.empty({B, k, k}), S = e.empty({B, k, k});
    TensorPtr dev = e.empty({3 * B});  // per-matrix scalars uploaded from the host
    T* dv = dev->template data<T>();
    if (tall)
      e.be.copyOnDevice(X->raw(), x.raw(), x.bytes());
    else
      e.p.copy(B, x.mat<T>(), Op::T, X->template mat<T>());
    const GroupLayout gX = GroupLayout::perMatrix(B, p * k), gK = GroupLayout::perMatrix(B, k * k);
    std::vector<T> h(3 * B);
    auto download = [&](int64_t n) { e.be.copyToHost(h.data(), dv, n * sizeof(T)); };
    auto upload = [&](int64_t n) { e.be.copyFromHost(dv, h.data(), n * sizeof(T)); };

    // 1. Scaling.
    e.p.groupDot(gX, X->template data<T>(), X->template data<T>(), dv);
    download(B);
    for (int64_t b = 0; b < B; ++b) h[b] = h[b] > 0 ? T(1 / std::sqrt(double(h[b]))) : T(1);
    upload(B);
    e.p.groupScale(gX, dv, X->template data<T>(), nullptr, nullptr, X->template data<T>());
    e.p.syrk(B, T(1), X->template mat<T>(), Op::T, T(0), A->template mat<T>());
    e.p.gemm(B, T(1), A->template mat<T>(), Op::N, A->template mat<T>(), Op::N, T(0), A2->template mat<T>());
    e.p.groupDot(gK, A2->template data<T>(), A2->template data<T>(), dv);
    download(B);
    for (int64_t b = 0; b < B; ++b) {
      const double n4 = double(h[b]);
      const double sc = n4 > 0 ? kSafety * std::pow(n4, 0.125) : 1.0;
      h[b] = T(1 / sc);
      h[B + b] = T(1 / (sc * sc));
      h[2 * B + b] = T(1 / (sc * sc * sc * sc));
    }
    upload(3 * B);
    e.p.groupScale(gX, dv, X->template data<T>(), nullptr, nullptr, X->template data<T>());
    e.p.groupScale(gK, dv + B, A->template data<T>(), nullptr, nullptr, A->template data<T>());
    e.p.groupScale(gK, dv + 2 * B, A2->template data<T>(), nullptr, nullptr, A2->template data<T>());

    // 2. The schedule (then the tail), one step: X <- X (a I + b A + c A2)
    // with A = X^T X, A2 = A A (the first step reuses the scaled A2). The
    // step's products run in `pre`; the A it leaves for the next step in
    // `next`, that step's precision.
    bool haveA2 = true;
    auto step = [&](const Quintic& q, Precision pre, Precision next) {
      if (!haveA2)
        e.gemmIn(pre, B, T(1), A->template mat<T>(), Op::N, A->template mat<T>(), Op::N, T(0), A2->template mat<T>());
      haveA2 = false;
      e.p.axpby(B, T(q[1]), A->template mat<T>(), T(q[2]), A2->template mat<T>());
      e.p.addDiagonal(B, A2->template mat<T>(), T(q[0]));
      e.gemmIn(pre, B, T(1), X->template mat<T>(), Op::N, A2->template mat<T>(), Op::N, T(0), Y->template mat<T>());
      std::swap(X, Y);
      e.syrkIn(next, B, T(1), X->template mat<T>(), Op::T, T(0), A->template mat<T>());
    };
    const auto precisionOf = [&](int s) { return s < scheduleSteps - 1 ? precision_ : Precision::Fp32; };
    for (int s = 0; s < scheduleSteps; ++s) step(schedule_[s], precisionOf(s), precisionOf(s + 1));

    // 3. Residual checks and the Newton-Schulz tail.
    for (int iters = scheduleSteps;; ++iters) {
      e.p.copy(B, A->template mat<T>(), Op::N, S->template mat<T>());
      e.p.addDiagonal(B, S->template mat<T>(), T(-1));
      e.p.groupDot(gK, S->template data<T>(), S->template data<T>(), dv);
      download(B);
      bool allDone = true;
      for (int64_t b = 0; b < B; ++b) {
        tr[b].observe(std::sqrt(std::max(0.0, double(h[b])) / double(k)), tol);
        allDone = allDone && tr[b].done(tol);
      }
      if (allDone || iters >= maxIters_) break;
      step(kNewtonSchulz, Precision::Fp32, Precision::Fp32);
    }
    return X;
  }

  void dropContext() override { savedX_ = savedQ_ = nullptr; }
  std::vector<TensorPtr> savedTensors() override { return {savedX_, savedQ_}; }

 private:
  double tol_;  // NaN: the dtype's default
  int maxIters_;
  double lowerBound_;
  bool flagStalls_;
  Precision precision_;
  std::vector<Quintic> schedule_;
  double scheduleBound_ = 0;
  PolarDiagnostics diag_;
  TensorPtr savedX_, savedQ_;
};

}  // namespace

PolarDiagnostics getPolarDiagnostics(Module& m) {
  auto* p = dynamic_cast<Polar*>(&m);
  if (!p) fail(code::kInvalidArg, ErrorKind::TypeError, m.name(), " has no polar diagnostics");
  return p->diagnostics();
}

const RegisterModule kRegistered{
    {"polar", true,
     {Option::optional("tol", OptionType::OptionalNumber), Option::integer("maxIters", 50),
      Option::real("lowerBound", 1e-5), Option::choice("onStall", "error"), Option::choice("precision", "fp32")},
     [](const Shape& s, const Options& o) -> ModulePtr { return std::make_shared<Polar>(s, o); }}};

}  // namespace ortho::ops
