// The fused kernels of Björck's iteration (ops/bjorck.cpp; see ops/fused.h).
// Implemented by the CPU (small matrices, in cache) and CUDA backends. Every
// entry takes beta right after the batch.
#pragma once

#include "../core/backend.h"

namespace ortho::ops {

template <typename T>
struct BjorckKernels {
  static constexpr const char* kName = "bjorck";

  /// Whether a recorded step of an m x n matrix should keep its folded Gram
  /// for the backward (one product fewer per step there, one k x k matrix
  /// more per step in the context). The CPU declines where its small-matrix
  /// kernels recompute it in cache for less than the memory traffic of
  /// keeping it. Without the kernels, the op keeps it.
  virtual bool keepsGram(int64_t m, int64_t n) = 0;
  /// `steps` steps from X into Y (dense, X's shape). With `saves` and
  /// `grams` (host arrays of `steps` device pointers, or null; grams only
  /// with saves), each non-null saves[s], 1 <= s < steps, receives the
  /// input of step s (dense, X's shape; saves[0] is unused: step 0's input
  /// is X) and each non-null grams[s], 0 <= s < steps, that step's folded
  /// Gram M' = (1 + beta) I - beta Gram(w) (dense, batch x k x k,
  /// k = min(rows, cols)): what backward() needs.
  virtual bool forward(int64_t batch, T beta, int steps, Mat<const T> X, Mat<T> Y, T* const* saves,
                       T* const* grams) = 0;
  /// The backward of `steps` recorded steps at once: ws and ms (host arrays
  /// of device pointers; ms null where no Gram was kept) hold the input of
  /// each step (dense, G's shape) and its folded Gram (dense, k x k); G,
  /// the gradient of the last step's output, is carried back through every
  /// step into dX (dense, G's shape, not overlapping G). The same math and
  /// order as the op's per-step VJP.
  virtual bool backward(int64_t batch, T beta, int steps, const T* const* ws, const T* const* ms, Mat<const T> G,
                        Mat<T> dX) = 0;

 protected:
  ~BjorckKernels() = default;
};

}  // namespace ortho::ops
