// L2Normalize: y = x / (||x|| + 1e-8) over `dims` (all dims when absent).
// Backward: dx = c g + c2 x,  c = 1 / (r + 1e-8),
//           c2 = -<x, g> / (r (r + 1e-8)^2)  (0 where r = 0).
#include "common.h"
#include "module_registry.h"

namespace ortho::ops {
namespace {

constexpr double kL2Eps = 1e-8;

class L2Normalize final : public OpModule {
 public:
  explicit L2Normalize(const Options& o)
      : OpModule({}, o.flag("requiresGrad"), false),
        dims_(o.has("dims") ? o.list("dims") : std::vector<int>{}),
        all_(!o.has("dims")) {}
  const char* name() const override { return "L2Normalize"; }

  TensorPtr rightInverse(const TensorPtr& w) override {
    // orthogonium's right_inverse normalizes too.
    std::lock_guard<std::mutex> g(mutex_);
    Pending p = prepare(w, false);
    return p.y;
  }

 protected:
  void checkInput(const TensorPtr& x) override { layoutFor(x->shape()); }

  GroupLayout layoutFor(const Shape& shape) const {
    const int rank = static_cast<int>(shape.size());
    std::vector<bool> reduce(shape.size(), all_);
    if (!all_) {
      for (int d : dims_) {
        if (d < -rank || d >= rank)
          fail(code::kInvalidArg, ErrorKind::RangeError, "L2Normalize: dim ", d, " is out of range for a tensor of rank ",
               rank, " (shape ", shapeStr(shape), ")");
        int k = d < 0 ? d + rank : d;
        if (reduce[k])
          fail(code::kInvalidArg, ErrorKind::RangeError, "L2Normalize: dim ", d, " is repeated in dims");
        reduce[k] = true;
      }
    }
    return GroupLayout::make(shape, reduce);
  }

  Pending forwardImpl(const TensorPtr& x, bool record) override {
    return dispatchDtype(x->dtype(), [&](auto tag) {
      using T = decltype(tag);
      Env<T> e(*x);
      GroupLayout g = layoutFor(x->shape());
      TensorPtr r2 = e.empty({g.groups()}), c = e.empty({g.groups()});
      e.p.groupDot(g, x->data<T>(), x->data<T>(), r2->template data<T>());
      e.p.scalarMap(g.groups(), ScalarFn::InvSqrtPlus, r2->template data<T>(), nullptr, T(kL2Eps),
                    c->template data<T>());
      TensorPtr y = e.empty(x->shape());
      e.p.groupScale(g, c->template data<T>(), x->data<T>(), nullptr, nullptr, y->template data<T>());
      // |y_i| = |x_i| / (||x|| + 1e-8) <= 1 (up to rounding) for finite x; an
      // overflowed ||x|| gives c = 0 and y = 0. So r2, finite only if every
      // x_i is, witnesses y's finiteness (an overflowed r2 has y read).
      return Pending{y,
                     [this, record, x, r2, c] {
                       if (!record) return;
                       savedX_ = x;
                       savedR2_ = r2;
                       savedC_ = c;
                     },
                     r2};
    });
  }

  TensorPtr backwardImpl(const TensorPtr& gr) override {
    return dispatchDtype(gr->dtype(), [&](auto tag) {
      using T = decltype(tag);
      Env<T> e(*gr);
      GroupLayout g = layoutFor(gr->shape());
      const int64_t G = g.groups();
      TensorPtr c2 = e.empty({G}), r = e.empty({G});
      T* c2p = c2->template data<T>();
      const T* c = savedC_->data<T>();
      // c2 = -<x, g> c^2 / r, with r = ||x|| and c = 1 / (r + eps); 0 where
      // r = 0 (x = 0 there, and so is the gradient's second term).
      e.p.groupDot(g, savedX_->data<T>(), gr->data<T>(), c2p);
      e.p.scalarMap(G, ScalarFn::Mul, c2p, c, T(-1), c2p);
      e.p.scalarMap(G, ScalarFn::Mul, c2p, c, T(1), c2p);
      e.p.scalarMap(G, ScalarFn::Sqrt, savedR2_->data<T>(), nullptr, T(0), r->template data<T>());
      e.p.scalarMap(G, ScalarFn::DivOrZero, c2p, r->template data<T>(), T(0), c2p);
      TensorPtr out = e.empty(gr->shape());
      e.p.groupScale(g, savedC_->data<T>(), gr->data<T>(), c2->template data<T>(), savedX_->data<T>(),
                     out->template data<T>());
      return out;
    });
  }

  void dropContext() override { savedX_ = savedR2_ = savedC_ = nullptr; }
  std::vector<TensorPtr> savedTensors() override { return {savedR2_, savedC_}; }

 private:
  std::vector<int> dims_;
  bool all_;
  TensorPtr savedX_, savedR2_, savedC_;
};

}  // namespace

const RegisterModule kRegistered{{"l2normalize", false, {Option::optional("dims", OptionType::Dims)},
                                  [](const Shape&, const Options& o) -> ModulePtr {
                                    return std::make_shared<L2Normalize>(o);
                                  }}};

}  // namespace ortho::ops
