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

OpModule::OpModule(Shape weightShape, bool requiresGrad, bool matrixInput)
    : Module(requiresGrad), weightShape_(std::move(weightShape)), matrixInput_(matrixInput) {
  if (matrixInput_) checkMatrixShape(weightShape_, "weightShape");
}

void OpModule::checkInput(const TensorPtr& x) {
  if (matrixInput_ && x->shape() != weightShape_)
    fail(code::kShape, ErrorKind::RangeError, name(), " was built for weights of shape ", shapeStr(weightShape_),
         ", got a tensor of shape ", shapeStr(x->shape()));
}

namespace {
// The finiteness rule's check of a computed result (see OpModule): y, or
// the witness the op handed for it, is counted; only when that is not all
// finite are the operand (named `what`) and then y itself scanned, so that
// the error names a bad operand, else the overflow in module `name`.
void checkResult(const TensorImpl& operand, const char* what, const TensorImpl& y, const TensorImpl* witness,
                 const char* result, const char* name) {
  if (countNonFinite(witness ? *witness : y) == 0) return;
  if (&y != &operand) checkFinite(operand, what);
  checkFinite(y, &y == &operand ? what : (std::string(result) + name + " (the computation overflowed)").c_str());
}
}  // namespace

OpModule::Pending OpModule::prepare(const TensorPtr& x, bool record) {
  checkInput(x);
  Pending p;
  {
    auto lock = x->backend().lockForOperation();
    try {
      p = forwardImpl(x, record);
    } catch (...) {
      checkFinite(*x, "the input");  // a bad input is the cause; else the error stands
      throw;
    }
    checkResult(*x, "the input", *p.y, p.witness.get(), "the result of ", name());
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

TensorPtr OpModule::forward(const TensorPtr& x) {
  std::lock_guard<std::mutex> g(mutex_);
  Pending p = prepare(x, requiresGrad_);
  p.commit();
  return p.y;
}

TensorPtr OpModule::backward(const TensorPtr& g) {
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
  TensorPtr r;
  try {
    r = backwardImpl(g);
  } catch (...) {
    checkFinite(*g, "the gradient");  // as in prepare()
    throw;
  }
  checkResult(*g, "the gradient", *r, nullptr, "the input gradient of ", name());
  return r;
}

TensorPtr OpModule::rightInverse(const TensorPtr& w) {
  checkInput(w);
  auto lock = w->backend().lockForOperation();
  checkFinite(*w, "the input");  // the same rule as forward(), though nothing is computed
  return w;
}

void OpModule::clearContext() {
  std::lock_guard<std::mutex> g(mutex_);
  dropContext();
  hasContext_ = false;
}

std::size_t OpModule::contextBytes() {
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
  Chain(std::shared_ptr<OpModule> first, std::shared_ptr<OpModule> second, bool requiresGrad)
      : Module(requiresGrad), first_(std::move(first)), second_(std::move(second)) {}
  const char* name() const override { return "OrthoParams module"; }

  TensorPtr forward(const TensorPtr& x) override {
    // Fixed lock order (chain, first, second) so concurrent calls through the
    // chain and through a child cannot deadlock.
    std::lock_guard<std::mutex> g0(mutex_);
    std::lock_guard<std::mutex> g1(first_->mutex_);
    std::lock_guard<std::mutex> g2(second_->mutex_);
    OpModule::Pending p1 = first_->prepare(x, first_->requiresGrad_);
    OpModule::Pending p2 = second_->prepare(p1.y, second_->requiresGrad_);
    p1.commit();  // both succeeded: now apply state updates and contexts
    p2.commit();
    return p2.y;
  }

  TensorPtr backward(const TensorPtr& g) override {
    std::lock_guard<std::mutex> g0(mutex_);
    if (!requiresGrad_)
      fail(code::kNoGrad, ErrorKind::Error,
           "backward() needs the module built with requiresGrad: true (forward saved nothing to differentiate)");
    return first_->backward(second_->backward(g));
  }

  TensorPtr rightInverse(const TensorPtr& w) override { return first_->rightInverse(second_->rightInverse(w)); }

  void clearContext() override {
    first_->clearContext();
    second_->clearContext();
  }
  std::size_t contextBytes() override {
    std::lock_guard<std::mutex> g0(mutex_);
    return first_->contextBytes() + second_->contextBytes();
  }

 private:
  std::shared_ptr<OpModule> first_, second_;
  std::mutex mutex_;
};

ModulePtr makeChain(const ModulePtr& first, const ModulePtr& second, bool requiresGrad) {
  auto one = [](const ModulePtr& m, const char* which) {
    auto op = std::dynamic_pointer_cast<OpModule>(m);
    if (!op) fail(code::kInvalidArg, ErrorKind::TypeError, which, " must be a single module, not a chain");
    return op;
  };
  return std::make_shared<Chain>(one(first, "first"), one(second, "second"), requiresGrad);
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
