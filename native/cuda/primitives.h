// Primitives<T> on one GPU: cuBLAS for GEMM and triangular solves, cuSOLVER
// for Cholesky, QR and SVD, kernels (*.cu) for the element-wise and
// per-matrix work. Row-major matrices are handed to the column-major
// libraries as their transposes (see primitives.cpp).
#pragma once

#include "../core/backend.h"
#include "../ops/bjorck_kernels.h"
#include "../ops/cholesky_kernels.h"
#include "../ops/exponential_kernels.h"
#include "../ops/power_iteration_kernels.h"
#include "context.h"

namespace ortho::cuda {

template <typename T>
class CudaPrimitives;

// The ops' fused-kernel interfaces (ops/fused.h) over CudaPrimitives' kernels.
template <typename T>
struct CudaPowerIterationKernels final : ops::PowerIterationKernels<T> {
  CudaPrimitives<T>* p;
  explicit CudaPowerIterationKernels(CudaPrimitives<T>* prims) : p(prims) {}
  bool forward(int64_t batch, Mat<const T> X, T* u, T* v, int niter, T eps, T* coef, T* Y) override {
    return p->fusedPowerIteration(batch, X, u, v, niter, eps, coef, Y);
  }
};

template <typename T>
struct CudaBjorckKernels final : ops::BjorckKernels<T> {
  CudaPrimitives<T>* p;
  explicit CudaBjorckKernels(CudaPrimitives<T>* prims) : p(prims) {}
  bool keepsGram(int64_t, int64_t) override { return true; }  // the fused backward reads them
  bool forward(int64_t batch, T beta, int steps, Mat<const T> X, Mat<T> Y, T* const* saves,
               T* const* grams) override {
    return p->fusedBjorck(batch, beta, steps, X, Y, saves, grams);
  }
  bool backward(int64_t batch, T beta, int steps, const T* const* ws, const T* const* ms, Mat<const T> G,
                Mat<T> dX) override {
    return p->fusedBjorckBackward(batch, beta, steps, ws, ms, G, dX);
  }
};

template <typename T>
struct CudaCholeskyKernels final : ops::CholeskyKernels<T> {
  CudaPrimitives<T>* p;
  explicit CudaCholeskyKernels(CudaPrimitives<T>* prims) : p(prims) {}
  bool forward(int64_t batch, Mat<const T> X, T shift, Mat<T> L, Mat<T> W, int* info) override {
    return p->fusedCholesky(batch, X, shift, L, W, info);
  }
  bool backward(int64_t batch, Mat<const T> L, Mat<const T> W, Mat<const T> X, Mat<const T> G,
                Mat<T> dX) override {
    return p->fusedCholeskyBackward(batch, L, W, X, G, dX);
  }
};

template <typename T>
struct CudaExponentialKernels final : ops::ExponentialKernels<T> {
  CudaPrimitives<T>* p;
  explicit CudaExponentialKernels(CudaPrimitives<T>* prims) : p(prims) {}
  bool forward(int64_t batch, Mat<const T> X, Mat<T> Y, int K) override { return p->fusedExponential(batch, X, Y, K); }
};

template <typename T>
class CudaPrimitives final : public Primitives<T> {
 public:
  explicit CudaPrimitives(DeviceContext& ctx) : ctx_(ctx) {}

  void gemm(int64_t batch, T alpha, Mat<const T> A, Op opA, Mat<const T> B, Op opB, T beta, Mat<T> C) override;
  void syrk(int64_t batch, T alpha, Mat<const T> A, Op opA, T beta, Mat<T> C) override;
  bool gemmReduced(Precision p, int64_t batch, T alpha, Mat<const T> A, Op opA, Mat<const T> B, Op opB, T beta,
                   Mat<T> C) override;
  bool syrkReduced(Precision p, int64_t batch, T alpha, Mat<const T> A, Op opA, T beta, Mat<T> C) override;
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
  void groupDot(const GroupLayout& layout, const T* x, const T* y, T* out) override;
  void groupScale(const GroupLayout& layout, const T* a, const T* x, const T* b, const T* y, T* out) override;
  void scalarMap(int64_t n, ScalarFn f, const T* a, const T* b, T p, T* out) override;
  int64_t countNonFinite(int64_t n, const T* x) override;
  void* fusedKernels(const char* name) override;

  // The fused kernels (*_fused.cu) behind the interfaces above; each
  // declines (false) the shapes it does not handle.
  bool fusedPowerIteration(int64_t batch, Mat<const T> X, T* u, T* v, int niter, T eps, T* coef, T* Y);
  bool fusedBjorck(int64_t batch, T beta, int steps, Mat<const T> X, Mat<T> Y, T* const* saves, T* const* grams);
  bool fusedBjorckBackward(int64_t batch, T beta, int steps, const T* const* ws, const T* const* ms, Mat<const T> G,
                           Mat<T> dX);
  bool fusedCholesky(int64_t batch, Mat<const T> X, T shift, Mat<T> L, Mat<T> W, int* info);
  bool fusedCholeskyBackward(int64_t batch, Mat<const T> L, Mat<const T> W, Mat<const T> X, Mat<const T> G,
                             Mat<T> dX);
  bool fusedExponential(int64_t batch, Mat<const T> X, Mat<T> Y, int K);

 private:
  void qrBatched(int64_t batch, Mat<T> Q, Mat<T> R, T* F, T* tau);
  void qrLooped(int64_t batch, Mat<T> Q, Mat<T> R, T* F, T* tau);
  /// Device array of `count` pointers base + b * stride (elements).
  template <typename P>
  void pointers(PoolBuffer& buf, int64_t count, P* base, int64_t stride);

  DeviceContext& ctx_;
  CudaPowerIterationKernels<T> powerIteration_{this};
  CudaBjorckKernels<T> bjorck_{this};
  CudaCholeskyKernels<T> cholesky_{this};
  CudaExponentialKernels<T> exponential_{this};
};

}  // namespace ortho::cuda
