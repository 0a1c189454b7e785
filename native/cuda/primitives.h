// Primitives<T> on one GPU: cuBLAS for GEMM and triangular solves, cuSOLVER
// for Cholesky, QR and SVD, kernels (*.cu) for the element-wise and
// per-matrix work. Row-major matrices are handed to the column-major
// libraries as their transposes (see primitives.cpp).
#pragma once

#include "../core/backend.h"
#include "context.h"

namespace ortho::cuda {

template <typename T>
class CudaPrimitives final : public Primitives<T> {
 public:
  explicit CudaPrimitives(DeviceContext& ctx) : ctx_(ctx) {}

  void gemm(int64_t batch, T alpha, Mat<const T> A, Op opA, Mat<const T> B, Op opB, T beta, Mat<T> C) override;
  void syrk(int64_t batch, T alpha, Mat<const T> A, Op opA, T beta, Mat<T> C) override;
  void potrf(int64_t batch, Mat<T> A, int* info) override;
  void trsm(int64_t batch, Side side, Uplo uplo, Op opA, T alpha, Mat<const T> A, Mat<T> B) override;
  void qr(int64_t batch, Mat<const T> A, Op opA, Mat<T> Q, Mat<T> R) override;
  void singularValues(int64_t batch, Mat<const T> A, T* S) override;
  void copy(int64_t batch, Mat<const T> A, Op opA, Mat<T> B) override;
  void axpby(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B) override;
  void addTransposed(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B) override;
  void fill(int64_t batch, Mat<T> A, T value) override;
  void addDiagonal(int64_t batch, Mat<T> A, T value) override;
  void triangle(int64_t batch, Mat<T> A, TriOp op) override;
  void qrSignFix(int64_t batch, Mat<T> Q, Mat<T> R) override;
  void groupDot(const GroupLayout& layout, const T* x, const T* y, T* out) override;
  void groupScale(const GroupLayout& layout, const T* a, const T* x, const T* b, const T* y, T* out) override;
  void scalarMap(int64_t n, ScalarFn f, const T* a, const T* b, T p, T* out) override;
  int64_t countNonFinite(int64_t n, const T* x) override;
  bool fusedPowerIteration(int64_t batch, Mat<const T> X, T* u, T* v, int niter, T eps, T* coef, T* Y) override;
  bool fusedBjorck(int64_t batch, Mat<const T> X, Mat<T> Y, int steps, T beta, T* const* saves,
                   T* const* grams) override;
  bool fusedBjorckBackward(int64_t batch, const T* const* ws, const T* const* ms, int steps, Mat<const T> G,
                           Mat<T> dX, T beta) override;
  bool fusedCholesky(int64_t batch, Mat<const T> X, T shift, Mat<T> L, Mat<T> W, int* info) override;
  bool fusedCholeskyBackward(int64_t batch, Mat<const T> L, Mat<const T> W, Mat<const T> X, Mat<const T> G,
                             Mat<T> dX) override;
  bool fusedExponential(int64_t batch, Mat<const T> X, Mat<T> Y, int K) override;

 private:
  void qrBatched(int64_t batch, Mat<T> Q, Mat<T> R, T* F, T* tau);
  void qrLooped(int64_t batch, Mat<T> Q, Mat<T> R, T* F, T* tau);
  /// Device array of `count` pointers base + b * stride (elements).
  template <typename P>
  void pointers(PoolBuffer& buf, int64_t count, P* base, int64_t stride);

  DeviceContext& ctx_;
};

}  // namespace ortho::cuda
