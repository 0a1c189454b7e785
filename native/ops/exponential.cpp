// BatchedExponentialOrthogonalization: pad to D x D (D = max(m, n)),
// A = (P - P^T) / 2, truncated series sum_{k < K} A^k / k! with
// K = max(niters, 2) (orthogonium: I + A, then terms up to A^(niters-1)),
// crop to m x n.
//
// With requiresGrad, the series is evaluated by Horner's rule, one GEMM per
// term, keeping the intermediates the backward needs:
//   H_K = I,  H_j = I + (1/j) A H_{j+1}  (j = K-1 .. 1),  result H_1.
// Without it, by Paterson and Stockmeyer's scheme (SIAM J. Comput. 2(1),
// 1973): with the powers A^2 .. A^s, the degree-d polynomial (d = K - 1) is
// Horner's rule in A^s over blocks that are linear combinations of
// I, A, .., A^(s-1): (s - 1) + floor(d / s) GEMMs instead of d - 1 (5 instead
// of 10 for orthogonium's 12 terms). The same polynomial; rounding differs.
// Backward, with dH_1 = pad(G):
//   dA += (1/j) dH_j H_{j+1}^T,  dH_{j+1} = (1/j) A^T dH_j,
// then dP = (dA - dA^T) / 2 and the input gradient is its top-left block.
#include "common.h"
#include "exponential_kernels.h"
#include "fused.h"
#include "module_registry.h"

namespace ortho::ops {
namespace {

class Exponential final : public OpModule {
 public:
  Exponential(const Shape& weightShape, const Options& o)
      : OpModule(weightShape, o.flag("requiresGrad")), niters_(o.integer("niters")) {
    if (niters_ < 0) fail(code::kInvalidArg, ErrorKind::RangeError, "niters must be an integer >= 0, got ", niters_);
  }
  const char* name() const override { return "BatchedExponentialOrthogonalization"; }

 protected:
  Pending forwardImpl(const TensorPtr& x, bool record) override {
    return dispatchDtype(x->dtype(), [&](auto tag) {
      using T = decltype(tag);
      Env<T> e(*x);
      const MatrixDims d = x->dims();
      const int64_t B = d.batch, D = std::max(d.m, d.n);
      const int K = std::max(niters_, 2);
      if (!record) {  // nothing to save: the whole series may run as one fused primitive
        TensorPtr y = e.empty(x->shape());
        auto* kernels = fused<ExponentialKernels<T>>(e.p);
        if (kernels && kernels->forward(B, x->mat<T>(), y->template mat<T>(), K)) return Pending{y, [] {}};
      }
      TensorPtr A = e.empty({B, D, D});
      Mat<T> Am = A->template mat<T>();
      if (d.m == d.n) {
        e.p.addTransposed(B, T(0.5), x->mat<T>(), T(-0.5), Am);
      } else {
        TensorPtr P = e.zeros({B, D, D});
        e.p.copy(B, x->mat<T>(), Op::N, P->template mat<T>().block(d.m, d.n));
        e.p.addTransposed(B, T(0.5), P->template mat<T>(), T(-0.5), Am);
      }
      if (!record && (K - 1) - 1 > bestBlock(K - 1).gemms) {
        TensorPtr H = patersonStockmeyer(e, B, D, Am, K - 1);
        return Pending{crop(e, H, *x), [] {}};
      }
      std::vector<TensorPtr> hs;  // H_{K-1}, ..., H_2 when recording
      TensorPtr H = e.empty({B, D, D});
      e.p.axpby(B, T(1.0 / (K - 1)), Am, T(0), H->template mat<T>());
      e.p.addDiagonal(B, H->template mat<T>(), T(1));
      for (int j = K - 2; j >= 1; --j) {
        if (record) hs.push_back(H);
        TensorPtr Hn = e.empty({B, D, D});
        e.p.gemm(B, T(1.0 / j), Am, Op::N, H->template mat<T>(), Op::N, T(0), Hn->template mat<T>());
        e.p.addDiagonal(B, Hn->template mat<T>(), T(1));
        H = Hn;
      }
      return Pending{crop(e, H, *x), [this, record, A, hs = std::move(hs)]() mutable {
        if (!record) return;
        savedA_ = A;
        savedH_ = std::move(hs);
      }};
    });
  }

  TensorPtr backwardImpl(const TensorPtr& g) override {
    return dispatchDtype(g->dtype(), [&](auto tag) {
      using T = decltype(tag);
      Env<T> e(*g);
      const MatrixDims d = g->dims();
      const int64_t B = d.batch, D = std::max(d.m, d.n);
      const int K = std::max(niters_, 2);
      Mat<const T> Am = savedA_->mat<T>();
      TensorPtr Hbar;
      if (d.m == d.n) {
        Hbar = g;
      } else {
        Hbar = e.zeros({B, D, D});
        e.p.copy(B, g->mat<T>(), Op::N, Hbar->template mat<T>().block(d.m, d.n));
      }
      TensorPtr Abar = e.zeros({B, D, D});
      Mat<T> Abm = Abar->template mat<T>();
      for (int j = 1; j <= K - 1; ++j) {
        const T inv = T(1.0 / j);
        if (j + 1 == K) {  // H_K = I
          e.p.axpby(B, inv, Hbar->template mat<T>(), T(1), Abm);
        } else {
          const TensorPtr& Hnext = savedH_[K - 2 - j];
          e.p.gemm(B, inv, Hbar->template mat<T>(), Op::N, Hnext->template mat<T>(), Op::T, T(1), Abm);
          TensorPtr next = e.empty({B, D, D});
          e.p.gemm(B, inv, Am, Op::T, Hbar->template mat<T>(), Op::N, T(0), next->template mat<T>());
          Hbar = next;
        }
      }
      TensorPtr Pbar = e.empty({B, D, D});
      e.p.addTransposed(B, T(0.5), Abm, T(-0.5), Pbar->template mat<T>());
      if (d.m == d.n) return Pbar->reshape(g->shape());
      TensorPtr out = e.empty(g->shape());
      e.p.copy(B, Pbar->template mat<T>().block(d.m, d.n), Op::N, out->template mat<T>());
      return out;
    });
  }

  void dropContext() override {
    savedA_ = nullptr;
    savedH_.clear();
  }
  std::vector<TensorPtr> savedTensors() override {
    std::vector<TensorPtr> v = savedH_;
    v.push_back(savedA_);
    return v;
  }

 private:
  // The top-left m x n block of H [B, D, D], in x's shape.
  template <typename T>
  static TensorPtr crop(Env<T>& e, const TensorPtr& H, const TensorImpl& x) {
    const MatrixDims d = x.dims();
    if (d.m == d.n) return H->reshape(x.shape());
    TensorPtr y = e.empty(x.shape());
    e.p.copy(d.batch, H->template mat<T>().block(d.m, d.n), Op::N, y->template mat<T>());
    return y;
  }

  struct Blocking {
    int s;      // highest stored power
    int gemms;  // (s - 1) + floor(d / s)
  };
  // The block size with the fewest GEMMs for degree d.
  static Blocking bestBlock(int d) {
    Blocking best{1, d};
    for (int s = 2; s <= d; ++s) {
      const int g = (s - 1) + d / s;
      if (g < best.gemms) best = {s, g};
    }
    return best;
  }

  // sum_{k <= d} A^k / k! (see the file comment), into a new [B, D, D].
  template <typename T>
  static TensorPtr patersonStockmeyer(Env<T>& e, int64_t B, int64_t D, Mat<T> A, int d) {
    const int s = bestBlock(d).s, r = d / s;
    std::vector<double> c(static_cast<std::size_t>(d) + 1, 1.0);  // 1 / k!
    for (int k = 1; k <= d; ++k) c[k] = c[k - 1] / k;
    std::vector<TensorPtr> pw(static_cast<std::size_t>(s) + 1);  // pw[j] = A^j, j >= 2
    for (int j = 2; j <= s; ++j) {
      pw[j] = e.empty({B, D, D});
      e.p.gemm(B, T(1), j == 2 ? A : pw[j - 1]->template mat<T>(), Op::N, A, Op::N, T(0), pw[j]->template mat<T>());
    }
    auto power = [&](int j) -> Mat<T> { return j == 1 ? A : pw[j]->template mat<T>(); };
    // R += sum_{0 < j < count} c[base + j] A^j, plus c[base] on the diagonal.
    auto addBlock = [&](Mat<T> R, int base, int count) {
      for (int j = 1; j < count; ++j) e.p.axpby(B, T(c[base + j]), power(j), T(1), R);
      e.p.addDiagonal(B, R, T(c[base]));
    };
    TensorPtr R = e.zeros({B, D, D});
    addBlock(R->template mat<T>(), r * s, d - r * s + 1);  // the top block, degree d - r s
    for (int i = r - 1; i >= 0; --i) {
      TensorPtr next = e.empty({B, D, D});
      e.p.gemm(B, T(1), power(s), Op::N, R->template mat<T>(), Op::N, T(0), next->template mat<T>());
      addBlock(next->template mat<T>(), i * s, s);
      R = next;
    }
    return R;
  }

  int niters_;
  TensorPtr savedA_;
  std::vector<TensorPtr> savedH_;
};

}  // namespace

const RegisterModule kRegistered{
    {"exponential", true, {Option::integer("niters", 7)},
     [](const Shape& s, const Options& o) -> ModulePtr { return std::make_shared<Exponential>(s, o); }}};

}  // namespace ortho::ops
