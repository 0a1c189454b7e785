// The fused kernel of the polar forward (ops/polar.cpp; see ops/fused.h),
// and the residual tracking both it and the op's plain sequence feed.
// Implemented by the CPU backend (small matrices, each in a core's cache).
#pragma once

#include <cmath>
#include <limits>

#include "../core/backend.h"

namespace ortho::ops {

/// One matrix's residual checks in the polar forward (ops/polar.cpp), where
/// the stall rule lives once: the plain sequence and a backend's PolarKernels
/// both feed it, so both stop alike.
struct PolarTrack {
  /// Checks without halving the residual before a matrix counts as
  /// stalled. The tail grows a singular value far below 1 by 1.875x per
  /// step while the residual barely moves: 12 steps lift it by three
  /// decades (inputs with sigma_min / sigma_max down to about lowerBound /
  /// 1000 still converge); an exact zero never moves.
  static constexpr int kStallChecks = 12;

  int checks = 0;       ///< checks made; the tail steps taken are checks - 1
  double first = 0;     ///< the residual at the first check (right after the schedule)
  double r = 0;         ///< the residual at the latest check
  double prev = std::numeric_limits<double>::infinity();  ///< the residual at the check before
  int noGain = 0;       ///< consecutive checks above tol that did not halve the residual
  bool stalled = false;

  /// Records the residual of the next check.
  void observe(double res, double tol) {
    if (checks++ == 0) first = res;
    r = res;
    if (!(res <= tol) && !stalled) {
      noGain = res > 0.5 * prev ? noGain + 1 : 0;
      if (noGain >= kStallChecks || !std::isfinite(res)) stalled = true;
    }
    prev = res;
  }
  /// At tol, or stalled: the batch may stop for this matrix.
  bool done(double tol) const { return r <= tol || stalled; }
};

/// What PolarKernels::forward runs on each matrix (ops/polar.cpp has the method).
struct PolarPlan {
  const double* schedule = nullptr;  ///< (a, b, c) of each schedule step, 3 per step
  int scheduleSteps = 0;             ///< schedule steps before the first check
  const double* tail = nullptr;      ///< (a, b, c) of every tail step
  int maxIters = 0;                  ///< most steps, schedule and tail together
  double tol = 0;
  double safety = 1;                 ///< the scaling s = safety * ||A^2||_F^(1/8)
  int untilChecks = 1;               ///< no matrix stops before this many checks
};

template <typename T>
struct PolarKernels {
  static constexpr const char* kName = "polar";

  /// The forward's steps on `count` matrices, each on its own: matrix
  /// b = which[i] (i < count; which null: b = i). Its p x k iterate X
  /// (p >= k) is In(b), or In(b)^T when `transposed`; the result goes to
  /// Out(b) in the same orientation (Out may equal In exactly). With
  /// tracks[b].checks == 0, X is the input: it is scaled, runs
  /// plan.scheduleSteps schedule steps and gets its first check; otherwise
  /// X continues from an earlier call. Then tail steps, each followed by a
  /// check (tracks[b].observe with the residual ||X^T X - I||_F / sqrt(k),
  /// its squared norm rounded to T as groupDot returns it), until
  /// tracks[b].done(plan.tol) with tracks[b].checks at least
  /// plan.untilChecks and at least the checks any matrix of the call has
  /// stopped at so far, or until the steps reach plan.maxIters. (So no
  /// matrix runs past the first check where every matrix of the call is
  /// done.) A call with `which` continues matrices of an earlier call that
  /// ran, and never declines.
  virtual bool forward(int64_t count, const int64_t* which, Mat<const T> In, Mat<T> Out, bool transposed,
                       const PolarPlan& plan, PolarTrack* tracks) = 0;

 protected:
  ~PolarKernels() = default;
};

}  // namespace ortho::ops
