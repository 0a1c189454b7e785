// BatchedPowerIteration: spectral normalization by power iteration with a
// warm-started state (u, v) per matrix.
//   per iteration: v = l2n(X^T u), u = l2n(X v)        (l2n over dim -2)
//   output:        X / (u^T X v + eps)
//   backward:      u, v constant; only s = u^T X v carries gradient:
//                  dX = G / (s + eps) - <G, X> / (s + eps)^2 * u v^T
#include <cmath>

#include "../core/random.h"
#include "common.h"
#include "fused.h"
#include "module_registry.h"
#include "power_iteration.h"
#include "power_iteration_kernels.h"

namespace ortho::ops {

PowerIteration::PowerIteration(const Shape& weightShape, const Options& o)
    : OpModule(weightShape, o.flag("requiresGrad")),
      niter_(o.integer("powerItNiter")),
      eps_(o.number("eps")),
      seed_(o.has("seed") ? o.seed("seed") : randomSeed()) {
  if (niter_ < 0)
    fail(code::kInvalidArg, ErrorKind::RangeError, "powerItNiter must be an integer >= 0, got ", niter_);
  if (!(eps_ >= 0) || !std::isfinite(eps_))
    fail(code::kInvalidArg, ErrorKind::RangeError, "eps must be a finite number >= 0, got ", eps_);
}

Shape PowerIteration::stateShape(bool isU) const {
  MatrixDims d = MatrixDims::of(weightShape_);
  return batchShape(weightShape_, {isU ? d.m : d.n, 1});
}

TensorPtr PowerIteration::initialState(bool isU, DType dtype, const Device& device) const {
  // u and v are drawn from one stream (u first), then l2-normalized on the
  // host in float64, as orthogonium reads its parametrized u and v.
  MatrixDims d = MatrixDims::of(weightShape_);
  std::vector<double> all = normalSamples(seed_, d.batch * (d.m + d.n));
  const int64_t k = isU ? d.m : d.n;
  const double* src = all.data() + (isU ? 0 : d.batch * d.m);
  std::vector<double> vals(src, src + d.batch * k);
  for (int64_t b = 0; b < d.batch; ++b) {
    double s = 0;
    for (int64_t i = 0; i < k; ++i) s += vals[b * k + i] * vals[b * k + i];
    double c = 1.0 / (std::sqrt(s) + 1e-8);
    for (int64_t i = 0; i < k; ++i) vals[b * k + i] *= c;
  }
  return TensorImpl::fromHost(stateShape(isU), dtype, device, vals.data(), DType::Float64);
}

void PowerIteration::checkInput(const TensorPtr& x) {
  OpModule::checkInput(x);
  if (stateFixed_) {
    if (x->dtype() != stateDtype_)
      fail(code::kDtype, ErrorKind::TypeError,
           "BatchedPowerIteration state (u, v) is ", dtypeName(stateDtype_), ", got a ", dtypeName(x->dtype()),
           " input; the state takes its dtype from the first input or from tensors assigned to u and v");
    if (x->device() != stateDevice_)
      fail(code::kDevice, ErrorKind::Error, "BatchedPowerIteration state (u, v) is on ", stateDevice_.str(),
           ", got an input on ", x->device().str(),
           "; the state takes its device from the first input or from tensors assigned to u and v");
  }
}

OpModule::Pending PowerIteration::forwardImpl(const TensorPtr& x, bool record) {
  return dispatchDtype(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    Env<T> e(*x);
    const MatrixDims d = x->dims();
    const int64_t B = d.batch, m = d.m, n = d.n;
    // Work on copies: the state changes only at commit.
    TensorPtr u = u_ ? e.clone(*u_) : initialState(true, x->dtype(), x->device());
    TensorPtr v = v_ ? e.clone(*v_) : initialState(false, x->dtype(), x->device());
    Mat<const T> X = x->mat<T>();
    Mat<T> U = Mat<T>::dense(u->template data<T>(), m, 1), V = Mat<T>::dense(v->template data<T>(), n, 1);
    TensorPtr coef = e.empty({B});
    T* c = coef->template data<T>();
    TensorPtr y = e.empty(x->shape());
    auto* kernels = fused<PowerIterationKernels<T>>(e.p);
    if (!(kernels && kernels->forward(B, X, U.data, V.data, niter_, T(eps_), c, y->template data<T>()))) {
      for (int it = 0; it < niter_; ++it) {
        e.p.gemm(B, T(1), X, Op::T, U, Op::N, T(0), V);
        l2NormalizeVectors(e, B, n, V.data);
        e.p.gemm(B, T(1), X, Op::N, V, Op::N, T(0), U);
        l2NormalizeVectors(e, B, m, U.data);
      }
      TensorPtr xv = e.empty({B, m, 1});
      e.p.gemm(B, T(1), X, Op::N, V, Op::N, T(0), xv->template mat<T>());
      e.p.groupDot(GroupLayout::perMatrix(B, m), U.data, xv->template data<T>(), c);
      e.p.scalarMap(B, ScalarFn::InvPlus, c, nullptr, T(eps_), c);  // 1 / (s + eps)
      e.p.groupScale(GroupLayout::perMatrix(B, m * n), c, X.data, nullptr, nullptr, y->template data<T>());
    }
    return Pending{y, [this, u, v, x, coef, record] {
      u_ = u;
      v_ = v;
      stateFixed_ = true;
      stateDtype_ = x->dtype();
      stateDevice_ = x->device();
      if (record) {
        savedX_ = x;
        savedU_ = u;  // u_ is replaced (never written in place) by later calls
        savedV_ = v;
        savedCoef_ = coef;
      }
    }};
  });
}

TensorPtr PowerIteration::backwardImpl(const TensorPtr& g) {
  return dispatchDtype(g->dtype(), [&](auto tag) {
    using T = decltype(tag);
    Env<T> e(*g);
    const MatrixDims d = g->dims();
    const int64_t B = d.batch, m = d.m, n = d.n;
    const GroupLayout perMat = GroupLayout::perMatrix(B, m * n);
    TensorPtr c2 = e.empty({B});
    e.p.groupDot(perMat, g->data<T>(), savedX_->data<T>(), c2->template data<T>());
    // c2 = -<G, X> / (s + eps)^2 (coef = 1 / (s + eps))
    T* c2p = c2->template data<T>();
    e.p.scalarMap(B, ScalarFn::Mul, c2p, savedCoef_->data<T>(), T(-1), c2p);
    e.p.scalarMap(B, ScalarFn::Mul, c2p, savedCoef_->data<T>(), T(1), c2p);
    TensorPtr out = e.empty(g->shape());
    e.p.gemm(B, T(1), Mat<const T>::dense(savedU_->data<T>(), m, 1), Op::N,
             Mat<const T>::dense(savedV_->data<T>(), n, 1), Op::T, T(0), out->template mat<T>());
    e.p.groupScale(perMat, savedCoef_->data<T>(), g->data<T>(), c2->template data<T>(), out->template data<T>(),
                   out->template data<T>());
    return out;
  });
}

void PowerIteration::dropContext() { savedX_ = savedU_ = savedV_ = savedCoef_ = nullptr; }

std::vector<TensorPtr> PowerIteration::savedTensors() { return {savedU_, savedV_, savedCoef_}; }

TensorPtr PowerIteration::getState(bool isU) {
  std::lock_guard<std::mutex> g(mutex_);
  const TensorPtr& s = isU ? u_ : v_;
  if (s) return s->clone();
  if (stateFixed_) return initialState(isU, stateDtype_, stateDevice_);
  return initialState(isU, DType::Float32, Device::cpu());
}

void PowerIteration::setState(bool isU, const TensorPtr& value) {
  std::lock_guard<std::mutex> g(mutex_);
  const Shape want = stateShape(isU);
  if (value->shape() != want)
    fail(code::kShape, ErrorKind::RangeError, "BatchedPowerIteration.", isU ? "u" : "v", " must have shape ",
         shapeStr(want), ", got ", shapeStr(value->shape()));
  auto lock = value->backend().lockForOperation();
  checkFinite(*value, isU ? "the new u" : "the new v");
  // Stored as orthogonium stores a parametrized assignment: l2-normalized.
  TensorPtr s = value->clone();
  MatrixDims d = MatrixDims::of(want);
  dispatchDtype(s->dtype(), [&](auto tag) {
    using T = decltype(tag);
    Env<T> e(*s);
    l2NormalizeVectors(e, d.batch, d.m, s->template data<T>());
  });
  TensorPtr& other = isU ? v_ : u_;
  if (other && (other->dtype() != s->dtype() || other->device() != s->device()))
    other = other->copyTo(s->device(), s->dtype());
  (isU ? u_ : v_) = s;
  stateFixed_ = true;
  stateDtype_ = s->dtype();
  stateDevice_ = s->device();
}

TensorPtr getPowerIterationState(Module& m, const std::string& which) {
  auto* pi = dynamic_cast<PowerIteration*>(&m);
  if (!pi) fail(code::kInvalidArg, ErrorKind::TypeError, m.name(), " has no power-iteration state");
  return pi->getState(which == "u");
}

void setPowerIterationState(Module& m, const std::string& which, const TensorPtr& value) {
  auto* pi = dynamic_cast<PowerIteration*>(&m);
  if (!pi) fail(code::kInvalidArg, ErrorKind::TypeError, m.name(), " has no power-iteration state");
  pi->setState(which == "u", value);
}

}  // namespace ortho::ops

namespace ortho::ops {
const RegisterModule kRegistered{
    {"power_iteration", true,
     {Option::integer("powerItNiter", 3), Option::real("eps", 1e-12), Option::optional("seed", OptionType::Seed)},
     [](const Shape& s, const Options& o) -> ModulePtr { return std::make_shared<PowerIteration>(s, o); }}};
}  // namespace ortho::ops
