// Reparametrizer modules: each one's forward and backward written once
// against the Backend primitive table (OpModule), and Chain, which composes
// two of them (OrthoParams).
#pragma once

#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../core/tensor.h"

namespace ortho::ops {

/// What the N-API layer and Chain hold: a module that runs forward and
/// backward on tensors. Ops derive from OpModule; Chain composes two of them.
class Module {
 public:
  virtual ~Module() = default;
  /// The class name users know (for messages).
  virtual const char* name() const = 0;

  /// Runs the forward pass; with requiresGrad, replaces the saved context.
  /// Nothing changes (state, context) when it throws.
  virtual TensorPtr forward(const TensorPtr& x) = 0;
  /// Vector-Jacobian product for the latest forward's input.
  virtual TensorPtr backward(const TensorPtr& gradOutput) = 0;
  /// orthogonium's right_inverse (identity for most modules).
  virtual TensorPtr rightInverse(const TensorPtr& w) = 0;

  bool requiresGrad() const { return requiresGrad_; }
  /// Drops the saved context (frees its memory).
  virtual void clearContext() = 0;
  /// Bytes held by the saved context (for tests and benchmarks).
  virtual std::size_t contextBytes() = 0;

 protected:
  explicit Module(bool requiresGrad) : requiresGrad_(requiresGrad) {}
  bool requiresGrad_;
};

/// One reparametrizer: its forward and backward computations, written
/// against the Backend primitive table, and the rules every op shares,
/// applied here once:
/// - validation of what reaches it (shape, and for backward the dtype and
///   device of the latest forward);
/// - its calls serialized (it holds state and the saved context), with the
///   device's operation lock held while it enqueues work;
/// - effects (state, saved context) applied only once everything succeeded;
/// - finiteness: the result is checked; only when it holds a NaN or an
///   infinity, or the computation threw, is the operand (the input, or the
///   gradient) scanned, so that the error names the culprit: the operand
///   (ERR_ORTHO_NON_FINITE, "the input holds ...") or, for a finite
///   operand, the overflowing computation. Op bodies do no screening; a
///   forward may hand a cheaper witness of its result's finiteness
///   (Pending::witness).
class OpModule : public Module {
 public:
  TensorPtr forward(const TensorPtr& x) override;
  TensorPtr backward(const TensorPtr& gradOutput) override;
  TensorPtr rightInverse(const TensorPtr& w) override;
  void clearContext() override;
  std::size_t contextBytes() override;

 protected:
  OpModule(Shape weightShape, bool requiresGrad, bool matrixInput = true);

  /// A computed forward whose effects (state updates, saved context) are
  /// applied by commit() only once everything has succeeded.
  struct Pending {
    TensorPtr y;
    std::function<void()> commit;
    /// Optional: a smaller tensor the op computed anyway whose values are
    /// all finite only if y's are (L2Normalize's sums of squares). The
    /// finiteness rule then counts it instead of y, and reads y (and the
    /// input) only when it is not all finite.
    TensorPtr witness = nullptr;
  };
  /// Validates x and computes the forward with the module mutex held by the
  /// caller; changes nothing until the result's commit() runs.
  Pending prepare(const TensorPtr& x, bool record);
  /// The computation itself (device lock held, input's shape validated).
  virtual Pending forwardImpl(const TensorPtr& x, bool record) = 0;
  virtual TensorPtr backwardImpl(const TensorPtr& gradOutput) = 0;
  /// Called before forwardImpl with the module mutex held (state checks).
  virtual void checkInput(const TensorPtr& x);
  virtual void dropContext() = 0;
  /// The saved tensors, for contextBytes().
  virtual std::vector<TensorPtr> savedTensors() = 0;

  Shape weightShape_;
  bool matrixInput_;
  bool hasContext_ = false;
  Shape outShape_;  ///< shape of the latest recorded output
  DType outDtype_ = DType::Float32;
  Device outDevice_;
  std::mutex mutex_;

  friend class Chain;
};

using ModulePtr = std::shared_ptr<Module>;

/// forward = second(first(x)); backward runs the chain in reverse. Both
/// must be single modules (not chains).
ModulePtr makeChain(const ModulePtr& first, const ModulePtr& second, bool requiresGrad);

/// Power-iteration state access (u or v); throws for other modules.
TensorPtr getPowerIterationState(Module& m, const std::string& which);
void setPowerIterationState(Module& m, const std::string& which, const TensorPtr& value);

/// Per-matrix singular values, shape [...batch, min(m, n)].
TensorPtr singularValues(const TensorPtr& w);
/// Per-matrix ||W^T W - I||_F (m >= n) or ||W W^T - I||_F (m < n), shape [...batch].
TensorPtr orthogonalityError(const TensorPtr& w);

/// Throws ERR_ORTHO_NON_FINITE when t holds a NaN or an infinity. `what`
/// names the tensor in the message.
void checkFinite(const TensorImpl& t, const char* what);

}  // namespace ortho::ops
