// Helpers shared by the op implementations.
#pragma once

#include <memory>
#include <string>

#include "../core/tensor.h"
#include "module.h"

namespace ortho::ops {

/// The backend, primitive table and dtype of one computation.
template <typename T>
struct Env {
  using Scalar = T;
  Backend& be;
  Primitives<T>& p;
  explicit Env(const TensorImpl& like) : be(like.backend()), p(like.backend().template prims<T>()) {}
  TensorPtr empty(const Shape& s) const { return std::make_shared<TensorImpl>(s, DTypeOf<T>::value, be); }
  TensorPtr zeros(const Shape& s) const {
    TensorPtr t = empty(s);
    p.fill(1, Mat<T>::dense(t->template data<T>(), 1, t->numel()), T(0));
    return t;
  }
  /// gemm() in precision p where the backend has it (float32 on a GPU),
  /// else in full precision.
  void gemmIn(Precision prec, int64_t batch, T alpha, Mat<const T> A, Op opA, Mat<const T> B, Op opB, T beta,
              Mat<T> C) const {
    if (prec == Precision::Fp32 || !p.gemmReduced(prec, batch, alpha, A, opA, B, opB, beta, C))
      p.gemm(batch, alpha, A, opA, B, opB, beta, C);
  }
  /// syrk() in precision p where the backend has it, else in full precision.
  void syrkIn(Precision prec, int64_t batch, T alpha, Mat<const T> A, Op opA, T beta, Mat<T> C) const {
    if (prec == Precision::Fp32 || !p.syrkReduced(prec, batch, alpha, A, opA, beta, C))
      p.syrk(batch, alpha, A, opA, beta, C);
  }
  TensorPtr clone(const TensorImpl& t) const {
    TensorPtr c = empty(t.shape());
    be.copyOnDevice(c->raw(), t.raw(), t.bytes());
    return c;
  }
};

/// The `precision` option's value ('fp32', 'tf32' or 'bf16'); throws
/// ERR_ORTHO_INVALID_ARG (RangeError) for anything else.
Precision parsePrecision(const std::string& text);

/// The batch dims of shape s followed by `tail`.
inline Shape batchShape(const Shape& s, std::initializer_list<int64_t> tail) {
  Shape r(s.begin(), s.end() - 2);
  r.insert(r.end(), tail);
  return r;
}

/// v <- v / (||v|| + 1e-8) for each of `batch` contiguous vectors of length k
/// (orthogonium's L2Normalize over dim -2 of [..., k, 1]).
template <typename T>
void l2NormalizeVectors(Env<T>& e, int64_t batch, int64_t k, T* v) {
  TensorPtr r = e.empty({batch});
  GroupLayout g = GroupLayout::perMatrix(batch, k);
  e.p.groupDot(g, v, v, r->template data<T>());
  e.p.scalarMap(batch, ScalarFn::InvSqrtPlus, r->template data<T>(), nullptr, T(1e-8), r->template data<T>());
  e.p.groupScale(g, r->template data<T>(), v, nullptr, nullptr, v);
}

}  // namespace ortho::ops
