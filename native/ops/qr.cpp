// BatchedQROrthogonalization: transpose wide inputs, reduced QR, multiply
// column j of Q by sign(R_jj) (sign(0) = 0, as torch.sign), transpose back.
//
// Backward (tall orientation, A = Q R with the sign-fixed, positive-diagonal
// factors, R's gradient zero):
//   M  = -dQ^T Q,   C = tril(M) + tril(M, -1)^T
//   dA = (dQ + Q C) R^{-T}
// R^{-T} exists only for full-rank input: a zero on R's diagonal makes the
// gradient undefined and backward throws ERR_ORTHO_RANK_DEFICIENT.
#include "common.h"
#include "module_registry.h"

namespace ortho::ops {
namespace {

class QR final : public OpModule {
 public:
  QR(const Shape& weightShape, const Options& o) : OpModule(weightShape, o.flag("requiresGrad")) {}
  const char* name() const override { return "BatchedQROrthogonalization"; }

 protected:
  Pending forwardImpl(const TensorPtr& x, bool record) override {
    return dispatchDtype(x->dtype(), [&](auto tag) {
      using T = decltype(tag);
      Env<T> e(*x);
      const MatrixDims d = x->dims();
      const bool wide = d.m < d.n;
      const int64_t rows = std::max(d.m, d.n), cols = std::min(d.m, d.n);
      // Q is a new tensor either way: the primitive reads x (transposed when
      // wide) without a copy of it first.
      TensorPtr Q = e.empty({d.batch, rows, cols});
      TensorPtr R = e.empty({d.batch, cols, cols});
      Mat<T> Qm = Q->template mat<T>(), Rm = R->template mat<T>();
      e.p.qr(d.batch, x->mat<T>(), wide ? Op::T : Op::N, Qm, Rm);
      signFix(e, d.batch, Qm, Rm);
      TensorPtr y;
      if (wide) {
        y = e.empty(x->shape());
        e.p.copy(d.batch, Qm, Op::T, y->template mat<T>());
      } else {
        y = Q->reshape(x->shape());
      }
      return Pending{y, [this, record, Q, R] {
        if (!record) return;
        savedQ_ = Q;
        savedR_ = R;
      }};
    });
  }

  TensorPtr backwardImpl(const TensorPtr& g) override {
    return dispatchDtype(g->dtype(), [&](auto tag) {
      using T = decltype(tag);
      Env<T> e(*g);
      const MatrixDims d = g->dims();
      const bool wide = d.m < d.n;
      const int64_t B = d.batch, rows = std::max(d.m, d.n), cols = std::min(d.m, d.n);
      TensorPtr dA = e.empty({B, rows, cols});
      Mat<T> dAm = dA->template mat<T>();
      e.p.copy(B, g->mat<T>(), wide ? Op::T : Op::N, dAm);
      Mat<const T> Q = savedQ_->mat<T>();
      TensorPtr M = e.empty({B, cols, cols});
      Mat<T> Mm = M->template mat<T>();
      e.p.gemm(B, T(-1), dAm, Op::T, Q, Op::N, T(0), Mm);
      e.p.triangle(B, Mm, TriOp::LowerToFull);
      e.p.gemm(B, T(1), Q, Op::N, Mm, Op::N, T(1), dAm);
      e.p.trsm(B, Side::Right, Uplo::Upper, Op::T, T(1), savedR_->mat<T>(), dAm);
      if (e.p.countNonFinite(dA->numel(), dA->template data<T>()) > 0)
        fail(code::kRankDeficient, ErrorKind::Error,
             "BatchedQROrthogonalization.backward(): the input of the latest forward is rank-deficient (R has a zero "
             "on its diagonal), so the QR factor has no gradient there");
      if (!wide) return dA->reshape(g->shape());
      TensorPtr out = e.empty(g->shape());
      e.p.copy(B, dAm, Op::T, out->template mat<T>());
      return out;
    });
  }

  // s_j = sign(R(j, j)) (sign(0) = 0); column j of Q and row j of R times
  // s_j, so that R's diagonal is >= 0. Q (rows x k) and R (k x k) dense.
  template <typename T>
  static void signFix(Env<T>& e, int64_t batch, Mat<T> Q, Mat<T> R) {
    const int64_t rows = Q.rows, k = Q.cols;
    TensorPtr s = e.empty({batch, k});
    T* sp = s->template data<T>();
    // R's diagonal as a k x 1 matrix: one row to the next is one row and
    // one column of R.
    e.p.copy(batch, Mat<const T>{R.data, k, 1, R.ld + 1, R.stride}, Op::N, Mat<T>::dense(sp, k, 1));
    e.p.scalarMap(batch * k, ScalarFn::Sign, sp, nullptr, T(0), sp);
    // Groups (b, j): Q's column j (rows reduced), R's row j (columns reduced).
    e.p.groupScale(GroupLayout::make({batch, rows, k}, {false, true, false}), sp, Q.data, nullptr, nullptr, Q.data);
    e.p.groupScale(GroupLayout::make({batch, k, k}, {false, false, true}), sp, R.data, nullptr, nullptr, R.data);
  }

  void dropContext() override { savedQ_ = savedR_ = nullptr; }
  std::vector<TensorPtr> savedTensors() override { return {savedQ_, savedR_}; }

 private:
  TensorPtr savedQ_, savedR_;
};

}  // namespace

const RegisterModule kRegistered{
    {"qr", true, {},
     [](const Shape& s, const Options& o) -> ModulePtr { return std::make_shared<QR>(s, o); }}};

}  // namespace ortho::ops
