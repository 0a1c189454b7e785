#include "module.h"

#include <cmath>
#include <type_traits>

#include "common.h"

namespace ortho::ops {

namespace {
int64_t countNonFinite(const TensorImpl& t) {
  return dispatchDtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return t.backend().prims<T>().countNonFinite(t.numel(), t.data<T>());
  });
}
}  // namespace

void checkFinite(const TensorImpl& t, const char* what) {
  const int64_t bad = countNonFinite(t);
  if (bad > 0)
    fail(code::kNonFinite, ErrorKind::RangeError, what, " holds ", bad, " NaN or infinite value", bad > 1 ? "s" : "",
         " (shape ", shapeStr(t.shape()), "); every value must be finite");
}

Module::Module(Shape weightShape, bool requiresGrad, bool matrixInput)
    : weightShape_(std::move(weightShape)), requiresGrad_(requiresGrad), matrixInput_(matrixInput) {
  if (matrixInput_) checkMatrixShape(weightShape_, "weightShape");
}

void Module::checkInput(const TensorPtr& x) {
  if (matrixInput_ && x->shape() != weightShape_)
    fail(code::kShape, ErrorKind::RangeError, name(), " was built for weights of shape ", shapeStr(weightShape_),
         ", got a tensor of shape ", shapeStr(x->shape()));
}

bool Module::screenInput(const TensorImpl& input, const TensorImpl& witness) {
  if (!unscreened_) return false;
  return screenInputBy(input, countNonFinite(witness) == 0);
}

bool Module::screenInputBy(const TensorImpl& input, bool witnessFinite) {
  if (!unscreened_) return false;
  if (witnessFinite) {
    unscreened_ = nullptr;
    return true;
  }
  settleInputCheck(input);  // a bad element, or finite values whose witness overflowed
  return false;
}

// Runs the input's finiteness pass now, or, where the Impl `screens`, leaves
// it to screenInput() (see screensInput()).
void Module::armInputCheck(const TensorImpl& input, bool finiteKnown, bool screens, const char* what) {
  unscreened_ = nullptr;
  resultFinite_ = false;
  if (finiteKnown) return;
  if (screens)
    unscreened_ = what;
  else
    checkFinite(input, what);
}

// The pass left to screenInput() when the Impl returned without calling it.
void Module::settleInputCheck(const TensorImpl& input) {
  if (!unscreened_) return;
  const char* what = unscreened_;
  unscreened_ = nullptr;
  checkFinite(input, what);
}

Module::Pending Module::prepare(const TensorPtr& x, bool record, bool finiteKnown) {
  checkInput(x);
  Pending p;
  {
    auto lock = x->backend().lockForOperation();
    armInputCheck(*x, finiteKnown, screensInput(), "the input");
    p = forwardImpl(x, record);
    settleInputCheck(*x);
    // A result that is the input itself (BatchedIdentity) was just checked
    // or is known finite.
    if (p.y != x && !resultFinite_)
      checkFinite(*p.y, (std::string("the result of ") + name() + " (the computation overflowed)").c_str());
  }
  auto inner = std::move(p.commit);
  TensorPtr y = p.y;
  p.commit = [this, inner, record, y] {
    if (inner) inner();
    if (record) {
      hasContext_ = true;
      outShape_ = y->shape();
      outDtype_ = y->dtype();
      outDevice_ = y->device();
    }
  };
  return p;
}

TensorPtr Module::forward(const TensorPtr& x) {
  std::lock_guard<std::mutex> g(mutex_);
  Pending p = prepare(x, requiresGrad_);
  p.commit();
  return p.y;
}

TensorPtr Module::backward(const TensorPtr& g, bool finiteKnown) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (!requiresGrad_)
    fail(code::kNoGrad, ErrorKind::Error, name(),
         ".backward() needs the module built with requiresGrad: true (forward saved nothing to differentiate)");
  if (!hasContext_)
    fail(code::kNoGrad, ErrorKind::Error, name(), ".backward() needs a forward() first: no saved context");
  if (g->shape() != outShape_)
    fail(code::kShape, ErrorKind::RangeError, name(), ".backward() expects a gradient of the output's shape ",
         shapeStr(outShape_), ", got ", shapeStr(g->shape()));
  if (g->dtype() != outDtype_)
    fail(code::kDtype, ErrorKind::TypeError, name(), ".backward() expects a ", dtypeName(outDtype_),
         " gradient (the dtype of the latest forward), got ", dtypeName(g->dtype()));
  if (g->device() != outDevice_)
    fail(code::kDevice, ErrorKind::Error, name(), ".backward() expects a gradient on ", outDevice_.str(),
         " (the device of the latest forward), got one on ", g->device().str());
  auto lock = g->backend().lockForOperation();
  armInputCheck(*g, finiteKnown, screensGradient(), "the gradient");
  TensorPtr r = backwardImpl(g);
  settleInputCheck(*g);
  if (r != g && !resultFinite_)  // as in prepare(): the gradient itself passed through is checked or known finite
    checkFinite(*r, (std::string("the input gradient of ") + name() + " (the computation overflowed)").c_str());
  return r;
}

TensorPtr Module::rightInverse(const TensorPtr& w) {
  checkInput(w);
  auto lock = w->backend().lockForOperation();
  checkFinite(*w, "the input");  // the same rule as forward(), though nothing is computed
  return w;
}

void Module::clearContext() {
  std::lock_guard<std::mutex> g(mutex_);
  dropContext();
  hasContext_ = false;
}

std::size_t Module::contextBytes() {
  std::lock_guard<std::mutex> g(mutex_);
  std::size_t total = 0;
  for (const TensorPtr& t : savedTensors())
    if (t) total += t->bytes();
  return total;
}

// ---------------------------------------------------------------------------
// Chain: orthogonalizer after spectral normalizer.

class Chain final : public Module {
 public:
  Chain(ModulePtr first, ModulePtr second, bool requiresGrad)
      : Module(first->weightShape_, requiresGrad, first->matrixInput_),
        first_(std::move(first)),
        second_(std::move(second)) {}
  const char* name() const override { return "OrthoParams module"; }
  using Module::backward;

  TensorPtr forward(const TensorPtr& x) override {
    // Fixed lock order (chain, first, second) so concurrent calls through the
    // chain and through a child cannot deadlock.
    std::lock_guard<std::mutex> g0(mutex_);
    std::lock_guard<std::mutex> g1(first_->mutex_);
    std::lock_guard<std::mutex> g2(second_->mutex_);
    // The second module gets a checked input, except after a first module
    // that passes its input through (BatchedIdentity) when the second screens
    // its input itself: then the second does the check, from its witness.
    const bool deferCheck = first_->passesInput() && second_->screensInput();
    Pending p1 = first_->prepare(x, first_->requiresGrad_, /*finiteKnown=*/deferCheck);
    Pending p2 = second_->prepare(p1.y, second_->requiresGrad_, /*finiteKnown=*/!deferCheck);
    p1.commit();  // both succeeded: now apply state updates and contexts
    p2.commit();
    hasContext_ = requiresGrad_;
    return p2.y;
  }

  TensorPtr backward(const TensorPtr& g, bool finiteKnown) override {
    std::lock_guard<std::mutex> g0(mutex_);
    if (!requiresGrad_)
      fail(code::kNoGrad, ErrorKind::Error,
           "backward() needs the module built with requiresGrad: true (forward saved nothing to differentiate)");
    // The second module's result was checked: the first need not check it again.
    return first_->backward(second_->backward(g, finiteKnown), true);
  }

  TensorPtr rightInverse(const TensorPtr& w) override {
    return first_->rightInverse(second_->rightInverse(w));
  }

 protected:
  Pending forwardImpl(const TensorPtr&, bool) override {
    fail(code::kInternal, ErrorKind::Error, "Chain::forwardImpl is never called");
  }
  TensorPtr backwardImpl(const TensorPtr&) override {
    fail(code::kInternal, ErrorKind::Error, "Chain::backwardImpl is never called");
  }
  void dropContext() override {
    first_->clearContext();
    second_->clearContext();
  }
  // What both halves hold (the chain itself saves nothing), each read under
  // its own mutex in the chain's lock order.
  std::vector<TensorPtr> savedTensors() override {
    std::vector<TensorPtr> all;
    for (Module* m : {first_.get(), second_.get()}) {
      std::lock_guard<std::mutex> g(m->mutex_);
      for (TensorPtr& t : m->savedTensors()) all.push_back(std::move(t));
    }
    return all;
  }

 private:
  ModulePtr first_, second_;
};

ModulePtr makeChain(const ModulePtr& first, const ModulePtr& second, bool requiresGrad) {
  return std::make_shared<Chain>(first, second, requiresGrad);
}

// ---------------------------------------------------------------------------
// Diagnostics.

namespace {
// Runs fn(Env<T>&, dims, k = min(m, n)) on a validated batch of matrices,
// holding the device's operation lock.
template <typename Fn>
TensorPtr onMatrices(const TensorPtr& w, Fn&& fn) {
  checkMatrixShape(w->shape(), "the tensor");
  const MatrixDims d = w->dims();
  auto lock = w->backend().lockForOperation();
  checkFinite(*w, "the tensor");
  return dispatchDtype(w->dtype(), [&](auto tag) {
    using T = decltype(tag);
    Env<T> e(*w);
    return fn(e, d, std::min(d.m, d.n));
  });
}
}  // namespace

TensorPtr singularValues(const TensorPtr& w) {
  return onMatrices(w, [&](auto& e, const MatrixDims& d, int64_t k) {
    using T = typename std::remove_reference_t<decltype(e)>::Scalar;
    TensorPtr s = e.empty(batchShape(w->shape(), {k}));
    e.p.singularValues(d.batch, w->mat<T>(), s->template data<T>());
    checkFinite(*s, "the result of singularValues (the computation overflowed)");
    return s;
  });
}

TensorPtr orthogonalityError(const TensorPtr& w) {
  return onMatrices(w, [&](auto& e, const MatrixDims& d, int64_t k) {
    using T = typename std::remove_reference_t<decltype(e)>::Scalar;
    TensorPtr gram = e.empty({d.batch, k, k});
    Mat<T> G = gram->template mat<T>();
    e.p.syrk(d.batch, T(1), w->mat<T>(), d.m >= d.n ? Op::T : Op::N, T(0), G);
    e.p.addDiagonal(d.batch, G, T(-1));
    TensorPtr err = e.empty(Shape(w->shape().begin(), w->shape().end() - 2));
    e.p.groupDot(GroupLayout::perMatrix(d.batch, k * k), G.data, G.data, err->template data<T>());
    e.p.scalarMap(d.batch, ScalarFn::Sqrt, err->template data<T>(), nullptr, T(0), err->template data<T>());
    checkFinite(*err, "the result of orthogonalityError (the computation overflowed)");
    return err;
  });
}

}  // namespace ortho::ops
