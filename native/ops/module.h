// Reparametrizer modules: each one's forward and backward written once
// against the Backend primitive table. A module validates what reaches it,
// serializes its own calls (it holds state and the saved context), and holds
// the device's operation lock while it enqueues work.
#pragma once

#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../core/tensor.h"

namespace ortho::ops {

class Module {
 public:
  virtual ~Module() = default;
  /// The class name users know (for messages).
  virtual const char* name() const = 0;

  /// Runs the forward pass; with requiresGrad, replaces the saved context.
  /// Nothing changes (state, context) when it throws.
  virtual TensorPtr forward(const TensorPtr& x);
  /// Vector-Jacobian product for the latest forward's input.
  TensorPtr backward(const TensorPtr& gradOutput) { return backward(gradOutput, false); }
  /// orthogonium's right_inverse (identity for most modules).
  virtual TensorPtr rightInverse(const TensorPtr& w);

  bool requiresGrad() const { return requiresGrad_; }
  /// Drops the saved context (frees its memory).
  void clearContext();
  /// Bytes held by the saved context (for tests and benchmarks).
  std::size_t contextBytes();

 protected:
  Module(Shape weightShape, bool requiresGrad, bool matrixInput = true);

  /// A computed forward whose effects (state updates, saved context) are
  /// applied by commit() only once everything has succeeded.
  struct Pending {
    TensorPtr y;
    std::function<void()> commit;
  };
  /// Validates x and computes the forward with the module mutex held by the
  /// caller; changes nothing until the result's commit() runs. `finiteKnown`
  /// skips the input's finiteness pass when x is a result already checked
  /// (the second module of a chain).
  Pending prepare(const TensorPtr& x, bool record, bool finiteKnown = false);
  /// The computation itself (device lock held, input validated).
  virtual Pending forwardImpl(const TensorPtr& x, bool record) = 0;
  virtual TensorPtr backwardImpl(const TensorPtr& gradOutput) = 0;
  /// backward() with the gradient's finiteness pass skipped when
  /// `finiteKnown` (a result already checked: the first module of a chain).
  virtual TensorPtr backward(const TensorPtr& gradOutput, bool finiteKnown);
  /// True for a module that decides its input's finiteness from a witness
  /// it computes anyway: values that are NaN or infinite whenever an input
  /// element is (a sum of squares over every element; a result formed
  /// elementwise as a x + b, where NaN or infinity in x stays non-finite
  /// whatever a and b are). prepare() (and backward(), per
  /// screensGradient()) then leave the input's finiteness pass to the
  /// Impl's screenInput() call, which runs it only
  /// when the witness is not all finite (a bad input, or an overflow of
  /// finite values): one full read of the input saved. Such a module must
  /// raise no other error before that call; if it never makes it, the pass
  /// runs after the Impl anyway.
  virtual bool screensInput() const { return false; }
  /// The same for backward()'s gradient; by default as screensInput().
  virtual bool screensGradient() const { return screensInput(); }
  /// True for a module whose forward returns its input itself
  /// (BatchedIdentity): in a chain whose second module screens its input,
  /// the first leaves the input's check to it (one pass instead of two).
  virtual bool passesInput() const { return false; }
  /// See screensInput(). True when it counted the witness and found it all
  /// finite (false too when the caller had checked the input already).
  bool screenInput(const TensorImpl& input, const TensorImpl& witness);
  /// The same with a witness already judged: `witnessFinite` (for a module
  /// whose witness is not a tensor, such as the Cholesky's pivots). With
  /// false, the input's pass runs now (and throws on a bad element).
  bool screenInputBy(const TensorImpl& input, bool witnessFinite);
  /// Set by forwardImpl / backwardImpl when their result is known finite
  /// (screened as the witness, or finite by a bound): the result's own
  /// finiteness pass is skipped. Reset before every Impl call.
  bool resultFinite_ = false;
  /// Called before forwardImpl with the module mutex held (state checks).
  virtual void checkInput(const TensorPtr& x);
  virtual void dropContext() = 0;
  /// The saved tensors, for contextBytes().
  virtual std::vector<TensorPtr> savedTensors() = 0;

  Shape weightShape_;
  bool requiresGrad_;
  bool matrixInput_;
  bool hasContext_ = false;
  /// Non-null while screenInput() owes the input's finiteness pass: the
  /// input's name for the message ("the input", "the gradient").
  const char* unscreened_ = nullptr;
  Shape outShape_;  ///< shape of the latest recorded output
  DType outDtype_ = DType::Float32;
  Device outDevice_;
  std::mutex mutex_;

  friend class Chain;

 private:
  void armInputCheck(const TensorImpl& input, bool finiteKnown, bool screens, const char* what);
  void settleInputCheck(const TensorImpl& input);
};

using ModulePtr = std::shared_ptr<Module>;

/// Options common to the module constructors (camelCase names in JS).
struct ModuleOptions {
  bool requiresGrad = false;
  // power iteration
  int powerItNiter = 3;
  double eps = 1e-12;
  bool hasSeed = false;
  uint64_t seed = 0;
  // Björck
  double beta = 0.5;
  int niters = 12;
  bool passThrough = false;
  // Cholesky
  bool stable = false;
  // polar: tol NaN means the dtype's default
  double tol = std::numeric_limits<double>::quiet_NaN();
  int maxIters = 50;
  double lowerBound = 1e-5;
  std::string onStall = "error";
  // L2Normalize: dims to reduce over (empty = all)
  std::vector<int> dims;
  bool allDims = true;
};

/// Builds a module by kind: "identity", "power_iteration", "bjorck",
/// "cholesky", "exponential", "qr", "polar", "l2normalize". Throws on bad options.
ModulePtr makeModule(const std::string& kind, const Shape& weightShape, const ModuleOptions& o);

/// forward = second(first(x)); backward runs the chain in reverse.
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
