// The fused kernels of the Cholesky orthogonalization (ops/cholesky.cpp; see
// ops/fused.h). Implemented by the CUDA backend.
#pragma once

#include "../core/backend.h"

namespace ortho::ops {

template <typename T>
struct CholeskyKernels {
  static constexpr const char* kName = "cholesky";

  /// The forward: L = chol(X X^T + shift I) (strict upper triangle zero;
  /// info as potrf, non-finite pivots included; host, synchronizes) and,
  /// where info[b] == 0, W = L^{-1} X.
  virtual bool forward(int64_t batch, Mat<const T> X, T shift, Mat<T> L, Mat<T> W, int* info) = 0;
  /// The backward from the saved L and W: dX for the gradient G (dense,
  /// G's shape). With X.data non-null, the stable form (P L^{-1} applied to
  /// X instead of W).
  virtual bool backward(int64_t batch, Mat<const T> L, Mat<const T> W, Mat<const T> X, Mat<const T> G,
                        Mat<T> dX) = 0;

 protected:
  ~CholeskyKernels() = default;
};

}  // namespace ortho::ops
