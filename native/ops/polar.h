// BatchedPolarOrthogonalization: the orthogonal polar factor by matrix
// products only (see polar.cpp for the method and docs/polar.md for its
// derivation and measurements).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "module.h"

namespace ortho::ops {

/// One odd quintic p(x) = a x + b x^3 + c x^5 of the schedule.
using Quintic = std::array<double, 3>;

/// The coefficient schedule for inputs scaled into [lowerBound, 1]: greedy
/// minimax odd quintics (Amsel, Persson, Musco, Gower 2025, "The Polar
/// Express", arXiv 2505.16932), each found by the Remez exchange on the
/// current interval [l, u], with the paper's cushion and 1.01 safety factor;
/// it ends once l is within 1e-2 of 1, where the Newton-Schulz quintic
/// (1.875, -1.25, 0.375) takes over. Throws ERR_ORTHO_INVALID_ARG unless
/// 0 < lowerBound < 1.
std::vector<Quintic> polarSchedule(double lowerBound);

/// What the latest forward of a polar module found.
struct PolarDiagnostics {
  bool valid = false;         ///< a forward has run
  int iterations = 0;         ///< polynomial steps applied (schedule and tail)
  double residual = 0;        ///< max over the batch of ||Q^T Q - I||_F / sqrt(k)
  bool converged = false;     ///< every matrix reached residual <= tol
  std::vector<double> residuals;        ///< per matrix
  std::vector<int64_t> stalled;         ///< matrices whose residual stalled above tol
  std::vector<int64_t> belowLowerBound; ///< matrices whose sigma_min / sigma_max fell below the schedule's range
  double tol = 0;             ///< the tolerance in force (the dtype's default when none was given)
};

/// The latest diagnostics of a polar module; throws ERR_ORTHO_INVALID_ARG
/// for other modules.
PolarDiagnostics getPolarDiagnostics(Module& m);

}  // namespace ortho::ops
