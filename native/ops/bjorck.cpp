// BatchedBjorckOrthogonalization:
//   w <- (1 + beta) w - beta * w (w^T w)        (m >= n)
//   w <- (1 + beta) w - beta * (w w^T) w        (m < n)
// Each step is one symmetric rank-k product and one GEMM: with the Gram
// matrix folded into M' = (1 + beta) I - beta * G (k x k, k = min(m, n)),
// the step is w' = w M' (or M' w), so no element-wise pass over w is needed.
//
// Backward of one step at w, given G = dL/dw':
//   m >= n: dw = G M' - beta * w (G^T w + w^T G)
//   m <  n: dw = M' G - beta * (G w^T + w G^T) w
// A recorded step keeps its input w and, unless the backend's fused kernels
// decline it (BjorckKernels::keepsGram), its M' (k x k), which the forward computes anyway: the
// backward then runs three products per step instead of four (PyTorch's
// autograd keeps the same two per step).
// passThrough: the first niters steps save nothing; one more step is
// recorded and its VJP is returned as the input's gradient (straight
// through), so the saved context is one step's whatever niters is.
//
// precision 'tf32' / 'bf16' (float32 where the backend has reduced-precision
// products, i.e. on a GPU; elsewhere, and for float64, every step is full
// precision): the steps before the last kFullPrecisionSteps run their two
// products in that precision; the last ones, and the backward, in float32.
// Each step maps its input onto the iteration's path again, so the full
// steps remove the rounding the reduced ones left (the iteration converges
// quadratically near an orthogonal matrix). Where the fused kernels take the
// shape (small matrices: each one's steps in one launch) every step is
// float32; whether tensor cores would pay there is not measured.
#include <cmath>

#include "bjorck_kernels.h"
#include "common.h"
#include "fused.h"
#include "module_registry.h"

namespace ortho::ops {
namespace {

// Full-precision steps after reduced-precision ones. Measured in a float64
// simulation of float32 steps whose products round their inputs to TF32 or
// bfloat16 (beta 0.5, 12 and 25 iterations, 256x256, 512x128, 1024x1024):
// after one full step the orthogonality error ||W^T W - I||_F was 1.2-1.7x
// (TF32) and 37-92x (bfloat16) float32's; after two, within 0.8-1.45x for
// both, which is float32's own spread between runs. test/47 checks the
// bound on every backend that has the reduced arithmetic.
constexpr int kFullPrecisionSteps = 2;

class Bjorck final : public OpModule {
 public:
  Bjorck(const Shape& weightShape, const Options& o)
      : OpModule(weightShape, o.flag("requiresGrad")), beta_(o.number("beta")),
        niters_(o.integer("niters")),
        passThrough_(o.flag("passThrough")), precision_(parsePrecision(o.text("precision"))) {
    if (!std::isfinite(beta_))
      fail(code::kInvalidArg, ErrorKind::RangeError, "beta must be a finite number, got ", beta_);
    if (niters_ < 0) fail(code::kInvalidArg, ErrorKind::RangeError, "niters must be an integer >= 0, got ", niters_);
  }
  const char* name() const override { return "BatchedBjorckOrthogonalization"; }

 protected:
  Pending forwardImpl(const TensorPtr& x, bool record) override {
    return dispatchDtype(x->dtype(), [&](auto tag) {
      using T = decltype(tag);
      Env<T> e(*x);
      const MatrixDims d = x->dims();
      const int steps = niters_ + (passThrough_ ? 1 : 0);
      const int64_t k = std::min(d.m, d.n);
      auto* kernels = fused<BjorckKernels<T>>(e.p);
      // The recorded steps (all, or with passThrough the last only) keep
      // their input (in[0] = x) and, where asked, their M'.
      const bool keepGram = record && (!kernels || kernels->keepsGram(d.m, d.n));
      std::vector<TensorPtr> in(static_cast<std::size_t>(steps)), gramOf(static_cast<std::size_t>(steps));
      if (record)
        for (int s = passThrough_ ? steps - 1 : 0; s < steps; ++s) {
          in[s] = s == 0 ? x : e.empty(x->shape());
          if (keepGram) gramOf[s] = e.empty({d.batch, k, k});
        }
      TensorPtr result = steps > 0 ? e.empty(x->shape()) : e.clone(*x);  // niters == 0: still a new tensor
      std::vector<T*> ins(static_cast<std::size_t>(steps), nullptr), grams(static_cast<std::size_t>(steps), nullptr);
      for (int s = 0; s < steps; ++s) {
        if (s > 0 && in[s]) ins[s] = in[s]->template data<T>();
        if (gramOf[s]) grams[s] = gramOf[s]->template data<T>();
      }
      if (steps > 0 && !(kernels && kernels->forward(d.batch, T(beta_), steps, x->mat<T>(), result->template mat<T>(),
                                                       record ? ins.data() : nullptr,
                                                       keepGram ? grams.data() : nullptr))) {
        // Step by step. Step i writes the next recorded step's input, or
        // else one of two buffers in turn, `result` taking the last step.
        TensorPtr pair[2] = {result, nullptr}, gram;
        TensorPtr cur = x;
        for (int i = 0; i < steps; ++i) {
          TensorPtr next = i + 1 < steps && in[i + 1] ? in[i + 1] : pair[(steps - 1 - i) % 2];
          if (!next) next = pair[1] = e.empty(x->shape());
          if (!gramOf[i] && !gram) gram = e.empty({d.batch, k, k});
          const Precision p = i < steps - kFullPrecisionSteps ? precision_ : Precision::Fp32;
          step<T>(e, d, p, *cur, gramOf[i] ? *gramOf[i] : *gram, *next);
          cur = next;
        }
      }
      std::vector<TensorPtr> saved, savedM;
      for (int s = 0; s < steps; ++s)
        if (in[s]) {
          saved.push_back(in[s]);
          if (keepGram) savedM.push_back(gramOf[s]);
        }
      return Pending{result, [this, saved = std::move(saved), savedM = std::move(savedM), record]() mutable {
        if (!record) return;
        saved_ = std::move(saved);
        savedM_ = std::move(savedM);
      }};
    });
  }

  TensorPtr backwardImpl(const TensorPtr& g) override {
    return dispatchDtype(g->dtype(), [&](auto tag) {
      using T = decltype(tag);
      Env<T> e(*g);
      const MatrixDims d = g->dims();
      if (saved_.empty()) return e.clone(*g);
      // All the recorded steps in one fused primitive where the backend has
      // it; else step by step, the last recorded step's VJP into `out`.
      // savedM_ is empty where the backend keeps no Gram (it is recomputed).
      std::vector<const T*> ws, ms;
      for (const TensorPtr& w : saved_) ws.push_back(w->data<T>());
      for (const TensorPtr& M : savedM_) ms.push_back(M->data<T>());
      TensorPtr out = e.empty(g->shape());
      auto* kernels = fused<BjorckKernels<T>>(e.p);
      if (kernels && kernels->backward(d.batch, T(beta_), static_cast<int>(ws.size()), ws.data(),
                                       ms.empty() ? nullptr : ms.data(), g->mat<T>(), out->template mat<T>()))
        return out;
      TensorPtr grad = g;
      for (std::size_t i = saved_.size(); i-- > 0;)
        grad = stepBackward<T>(e, d, *saved_[i], savedM_.empty() ? nullptr : savedM_[i].get(), *grad,
                               i + 1 == saved_.size() ? out : nullptr);
      return grad;
    });
  }

  void dropContext() override {
    saved_.clear();
    savedM_.clear();
  }
  std::vector<TensorPtr> savedTensors() override {
    std::vector<TensorPtr> all = saved_;
    all.insert(all.end(), savedM_.begin(), savedM_.end());
    return all;
  }

 private:
  // M' = (1 + beta) I - beta * Gram(w), k x k.
  template <typename T>
  void foldedGram(Env<T>& e, const MatrixDims& d, Precision p, const TensorImpl& w, Mat<T> M) const {
    const bool tall = d.m >= d.n;
    e.syrkIn(p, d.batch, T(-beta_), w.mat<T>(), tall ? Op::T : Op::N, T(0), M);
    e.p.addDiagonal(d.batch, M, T(1 + beta_));
  }

  template <typename T>
  void step(Env<T>& e, const MatrixDims& d, Precision p, const TensorImpl& w, TensorImpl& gram,
            TensorImpl& out) const {
    Mat<T> M = gram.mat<T>();
    foldedGram(e, d, p, w, M);
    if (d.m >= d.n)
      e.gemmIn(p, d.batch, T(1), w.mat<T>(), Op::N, M, Op::N, T(0), out.mat<T>());
    else
      e.gemmIn(p, d.batch, T(1), M, Op::N, w.mat<T>(), Op::N, T(0), out.mat<T>());
  }

  template <typename T>
  // The VJP of one step at w into `out` (a new tensor when null; not g),
  // with the M' the forward saved, or recomputed when `saved` is null.
  TensorPtr stepBackward(Env<T>& e, const MatrixDims& d, const TensorImpl& w, const TensorImpl* saved,
                         const TensorImpl& g, TensorPtr out) const {
    const int64_t k = std::min(d.m, d.n);
    const bool tall = d.m >= d.n;
    TensorPtr Mt;
    if (!saved) {
      Mt = e.empty({d.batch, k, k});
      foldedGram(e, d, Precision::Fp32, w, Mt->template mat<T>());
    }
    const Mat<const T> M = saved ? saved->mat<T>() : Mat<const T>(Mt->template mat<T>());
    TensorPtr S0 = e.empty({d.batch, k, k}), S = e.empty({d.batch, k, k});
    if (!out) out = e.empty(g.shape());
    if (tall) {
      e.p.gemm(d.batch, T(1), g.mat<T>(), Op::N, M, Op::N, T(0), out->template mat<T>());
      e.p.gemm(d.batch, T(1), g.mat<T>(), Op::T, w.mat<T>(), Op::N, T(0), S0->template mat<T>());
      e.p.addTransposed(d.batch, T(1), S0->template mat<T>(), T(1), S->template mat<T>());
      e.p.gemm(d.batch, T(-beta_), w.mat<T>(), Op::N, S->template mat<T>(), Op::N, T(1), out->template mat<T>());
    } else {
      e.p.gemm(d.batch, T(1), M, Op::N, g.mat<T>(), Op::N, T(0), out->template mat<T>());
      e.p.gemm(d.batch, T(1), g.mat<T>(), Op::N, w.mat<T>(), Op::T, T(0), S0->template mat<T>());
      e.p.addTransposed(d.batch, T(1), S0->template mat<T>(), T(1), S->template mat<T>());
      e.p.gemm(d.batch, T(-beta_), S->template mat<T>(), Op::N, w.mat<T>(), Op::N, T(1), out->template mat<T>());
    }
    return out;
  }

  double beta_;
  int niters_;
  bool passThrough_;
  Precision precision_;
  std::vector<TensorPtr> saved_;   // the inputs of the recorded steps, in order
  std::vector<TensorPtr> savedM_;  // their M', k x k (empty where the backend keeps none)
};

}  // namespace

const RegisterModule kRegistered{
    {"bjorck", true, {Option::real("beta", 0.5), Option::integer("niters", 12), Option::flag("passThrough", false),
      Option::choice("precision", "fp32")},
     [](const Shape& s, const Options& o) -> ModulePtr { return std::make_shared<Bjorck>(s, o); }}};

}  // namespace ortho::ops
