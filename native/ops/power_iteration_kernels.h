// The fused kernel of the power iteration (ops/power_iteration.cpp; see
// ops/fused.h). Implemented by the CPU and CUDA backends.
#pragma once

#include "../core/backend.h"

namespace ortho::ops {

template <typename T>
struct PowerIterationKernels {
  static constexpr const char* kName = "powerIteration";

  /// The forward: niter iterations of v = l2n(X^T u), u = l2n(X v) on u
  /// (batch x m) and v (batch x n) in place, then coef[b] = 1 / (u^T X v +
  /// eps) and Y = coef * X (Y dense, X's shape).
  virtual bool forward(int64_t batch, Mat<const T> X, T* u, T* v, int niter, T eps, T* coef, T* Y) = 0;

 protected:
  ~PowerIterationKernels() = default;
};

}  // namespace ortho::ops
