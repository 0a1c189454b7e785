// BatchedCholeskyOrthogonalization:
//   S = X X^T + 1e-5 I,  L = chol(S),  W = L^{-1} X.
// Backward (the true VJP of that map; `stable` keeps X and applies L^{-1} to
// it instead of reusing W — equal in exact arithmetic):
//   gB = L^{-T} G
//   P  = Phi(L^T tril(-gB W^T)),  Phi = lower triangle mirrored to full
//   P  = L^{-T} P
//   dX = gB + P W           (default)
//   dX = gB + (P L^{-1}) X  (stable)

#include "cholesky_kernels.h"
#include "common.h"
#include "fused.h"
#include "module_registry.h"

namespace ortho::ops {
namespace {

constexpr double kShift = 1e-5;  // orthogonium's eps added to X X^T

class Cholesky final : public OpModule {
 public:
  Cholesky(const Shape& weightShape, const Options& o)
      : OpModule(weightShape, o.flag("requiresGrad")), stable_(o.flag("stable")) {}
  const char* name() const override { return "BatchedCholeskyOrthogonalization"; }

 protected:
  Pending forwardImpl(const TensorPtr& x, bool record) override {
    return dispatchDtype(x->dtype(), [&](auto tag) {
      using T = decltype(tag);
      Env<T> e(*x);
      const MatrixDims d = x->dims();
      TensorPtr L = e.empty({d.batch, d.m, d.m});
      Mat<T> Lm = L->template mat<T>();
      TensorPtr W = e.empty(x->shape());
      std::vector<int> info(static_cast<std::size_t>(d.batch));
      auto* kernels = fused<CholeskyKernels<T>>(e.p);
      const bool done =
          kernels && kernels->forward(d.batch, x->mat<T>(), T(kShift), Lm, W->template mat<T>(), info.data());
      if (!done) {
        e.p.syrk(d.batch, T(1), x->mat<T>(), Op::N, T(0), Lm);
        e.p.addDiagonal(d.batch, Lm, T(kShift));
        e.p.potrf(d.batch, Lm, info.data());
      }
      // Not positive definite, or a bad input: OpModule's finiteness rule
      // scans the input when this throws, and names it when it is bad.
      for (int64_t b = 0; b < d.batch; ++b)
        if (info[b] != 0)
          fail(code::kNotPositiveDefinite, ErrorKind::Error,
               "BatchedCholeskyOrthogonalization: X X^T + 1e-5 I is not positive definite for matrix ", b,
               " of the batch (leading minor of order ", info[b], " fails) in ", dtypeName(x->dtype()),
               "; the input is too large or too close to rank-deficient for this dtype (scale it down or use float64)");
      if (!done) {
        e.be.copyOnDevice(W->raw(), x->raw(), x->bytes());
        e.p.trsm(d.batch, Side::Left, Uplo::Lower, Op::N, T(1), Lm, W->template mat<T>());
      }
      return Pending{W, [this, record, W, L, x] {
        if (!record) return;
        savedW_ = W;
        savedL_ = L;
        savedX_ = stable_ ? x : nullptr;
      }};
    });
  }

  TensorPtr backwardImpl(const TensorPtr& g) override {
    return dispatchDtype(g->dtype(), [&](auto tag) {
      using T = decltype(tag);
      Env<T> e(*g);
      const MatrixDims d = g->dims();
      const int64_t B = d.batch, m = d.m;
      Mat<const T> L = savedL_->mat<T>();
      // The whole backward per matrix where the backend has it (X.data null:
      // the default form); else the sequence below, gB starting as G.
      TensorPtr gB = e.empty(g->shape());
      const Mat<const T> X = stable_ ? Mat<const T>(savedX_->mat<T>()) : Mat<const T>{};
      auto* kernels = fused<CholeskyKernels<T>>(e.p);
      if (kernels && kernels->backward(B, L, savedW_->mat<T>(), X, g->mat<T>(), gB->template mat<T>())) return gB;
      e.be.copyOnDevice(gB->raw(), g->raw(), g->bytes());
      e.p.trsm(B, Side::Left, Uplo::Lower, Op::T, T(1), L, gB->template mat<T>());
      TensorPtr A = e.empty({B, m, m}), P = e.empty({B, m, m});
      Mat<T> Am = A->template mat<T>(), Pm = P->template mat<T>();
      e.p.gemm(B, T(-1), gB->template mat<T>(), Op::N, savedW_->mat<T>(), Op::T, T(0), Am);
      e.p.triangle(B, Am, TriOp::KeepLower);
      e.p.gemm(B, T(1), L, Op::T, Am, Op::N, T(0), Pm);
      e.p.triangle(B, Pm, TriOp::KeepLower);
      e.p.triangle(B, Pm, TriOp::LowerToFull);
      e.p.trsm(B, Side::Left, Uplo::Lower, Op::T, T(1), L, Pm);
      if (stable_) {
        e.p.trsm(B, Side::Right, Uplo::Lower, Op::N, T(1), L, Pm);
        e.p.gemm(B, T(1), Pm, Op::N, savedX_->mat<T>(), Op::N, T(1), gB->template mat<T>());
      } else {
        e.p.gemm(B, T(1), Pm, Op::N, savedW_->mat<T>(), Op::N, T(1), gB->template mat<T>());
      }
      return gB;
    });
  }

  void dropContext() override { savedW_ = savedL_ = savedX_ = nullptr; }
  std::vector<TensorPtr> savedTensors() override { return {savedW_, savedL_, savedX_}; }

 private:
  bool stable_;
  TensorPtr savedW_, savedL_, savedX_;
};

}  // namespace

const RegisterModule kRegistered{
    {"cholesky", true, {Option::flag("stable", false)},
     [](const Shape& s, const Options& o) -> ModulePtr { return std::make_shared<Cholesky>(s, o); }}};

}  // namespace ortho::ops
