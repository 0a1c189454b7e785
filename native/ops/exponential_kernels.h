// The fused kernel of the exponential orthogonalization
// (ops/exponential.cpp; see ops/fused.h). Implemented by the CUDA backend.
#pragma once

#include "../core/backend.h"

namespace ortho::ops {

template <typename T>
struct ExponentialKernels {
  static constexpr const char* kName = "exponential";

  /// The forward without a saved context: pad X to D x D, A = (P - P^T) /
  /// 2, the K-term series by Horner's rule, crop to Y (dense, X's shape).
  virtual bool forward(int64_t batch, Mat<const T> X, Mat<T> Y, int K) = 0;

 protected:
  ~ExponentialKernels() = default;
};

}  // namespace ortho::ops
