// Copies, linear combinations, fills, triangles and scalar maps, batched.
#include "common.h"
#include "primitives.h"

namespace ortho::cpu {

template <typename T>
void Elementwise<T>::copy(int64_t batch, Mat<const T> A, Op opA, Mat<T> B) {
  forEachMatrix(batch, double(B.rows) * B.cols, [&](int64_t b) {
    if (opA == Op::N)
      view(B, b) = cview(A, b);
    else
      view(B, b) = cview(A, b).transpose();
  });
}

template <typename T>
void Elementwise<T>::axpby(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B) {
  forEachMatrix(batch, double(B.rows) * B.cols, [&](int64_t b) {
    auto bb = view(B, b);
    if (beta == T(0))
      bb = alpha * cview(A, b);
    else
      bb = alpha * cview(A, b) + beta * bb;
  });
}

template <typename T>
void Elementwise<T>::addTransposed(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B) {
  forEachMatrix(batch, double(B.rows) * B.cols, [&](int64_t b) {
    auto a = cview(A, b);
    view(B, b) = alpha * a + beta * a.transpose();
  });
}

template <typename T>
void Elementwise<T>::fill(int64_t batch, Mat<T> A, T value) {
  forEachMatrix(batch, double(A.rows) * A.cols, [&](int64_t b) { view(A, b).setConstant(value); });
}

template <typename T>
void Elementwise<T>::addDiagonal(int64_t batch, Mat<T> A, T value) {
  forEachMatrix(batch, double(A.rows), [&](int64_t b) { view(A, b).diagonal().array() += value; });
}

template <typename T>
void Elementwise<T>::triangle(int64_t batch, Mat<T> A, TriOp op) {
  if (op == TriOp::LowerToFull) {
    mirrorLowerBatch(batch, A);
    return;
  }
  forEachMatrix(batch, double(A.rows) * A.cols, [&](int64_t b) {
    view(A, b).template triangularView<Eigen::StrictlyUpper>().setZero();
  });
}

template <typename T>
void Elementwise<T>::scalarMap(int64_t n, ScalarFn f, const T* a, const T* b, T p, T* out) {
  for (int64_t i = 0; i < n; ++i) {
    switch (f) {
      case ScalarFn::InvSqrtPlus: out[i] = T(1) / (std::sqrt(a[i]) + p); break;
      case ScalarFn::InvPlus: out[i] = T(1) / (a[i] + p); break;
      case ScalarFn::Sqrt: out[i] = std::sqrt(a[i]); break;
      case ScalarFn::Sign: out[i] = a[i] > T(0) ? T(1) : (a[i] < T(0) ? T(-1) : T(0)); break;
      case ScalarFn::Mul: out[i] = p * a[i] * b[i]; break;
      case ScalarFn::DivOrZero: out[i] = b[i] != T(0) ? a[i] / b[i] : T(0); break;
    }
  }
}

template struct Elementwise<float>;
template struct Elementwise<double>;

}  // namespace ortho::cpu
