// The CPU primitives, by concern: each struct is defined in its own file
// (products.cpp, factorizations.cpp, elementwise.cpp, reductions.cpp,
// fused.cpp) and instantiated there for float and double; primitives.cpp
// puts them behind the Primitives<T> table of core/backend.h.
#pragma once

#include <cstdint>

#include "../../core/backend.h"
#include "../../ops/polar_kernels.h"

namespace ortho::cpu {

using ops::PolarPlan;
using ops::PolarTrack;

/// Batched GEMM, SYRK and triangular solves.
template <typename T>
struct Products {
  static void gemm(int64_t batch, T alpha, Mat<const T> A, Op opA, Mat<const T> B, Op opB, T beta, Mat<T> C);
  static void syrk(int64_t batch, T alpha, Mat<const T> A, Op opA, T beta, Mat<T> C);
  static void trsm(int64_t batch, Side side, Uplo uplo, Op opA, T alpha, Mat<const T> A, Mat<T> B);
};

/// Cholesky, Householder QR and singular values.
template <typename T>
struct Factorizations {
  static void potrf(int64_t batch, Mat<T> A, int* info);
  static void qr(int64_t batch, Mat<const T> A, Op opA, Mat<T> Q, Mat<T> R);
  static void singularValues(int64_t batch, Mat<const T> A, T* S);
};

/// Copies, linear combinations, fills and scalar maps.
template <typename T>
struct Elementwise {
  static void copy(int64_t batch, Mat<const T> A, Op opA, Mat<T> B);
  static void axpby(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B);
  static void addTransposed(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B);
  static void fill(int64_t batch, Mat<T> A, T value);
  static void addDiagonal(int64_t batch, Mat<T> A, T value);
  static void triangle(int64_t batch, Mat<T> A, TriOp op);
  static void scalarMap(int64_t n, ScalarFn f, const T* a, const T* b, T p, T* out);
};

/// Grouped dot products and scalings, the finiteness count.
template <typename T>
struct Reductions {
  static void groupDot(const GroupLayout& g, const T* x, const T* y, T* out);
  static void groupScale(const GroupLayout& g, const T* a, const T* x, const T* b, const T* y, T* out);
  static int64_t countNonFinite(int64_t n, const T* x);
};

/// Whole algorithms per matrix while it stays in a core's cache: the ops'
/// fused-kernel interfaces (ops/*_kernels.h), as primitives.cpp hands them out.
template <typename T>
struct Fused {
  static bool powerIteration(int64_t batch, Mat<const T> X, T* u, T* v, int niter, T eps, T* coef, T* Y);
  static bool keepsBjorckGram(int64_t m, int64_t n);
  static bool bjorck(int64_t batch, Mat<const T> X, Mat<T> Y, int steps, T beta, T* const* saves, T* const* grams);
  static bool bjorckBackward(int64_t batch, const T* const* ws, const T* const* ms, int steps, Mat<const T> G,
                             Mat<T> dX, T beta);
  static bool polar(int64_t count, const int64_t* which, Mat<const T> In, Mat<T> Out, bool transposed,
                    const PolarPlan& plan, PolarTrack* tracks);
};

#define ORTHO_CPU_EXTERN_TEMPLATES(X) \
  extern template struct X<float>;    \
  extern template struct X<double>;
ORTHO_CPU_EXTERN_TEMPLATES(Products)
ORTHO_CPU_EXTERN_TEMPLATES(Factorizations)
ORTHO_CPU_EXTERN_TEMPLATES(Elementwise)
ORTHO_CPU_EXTERN_TEMPLATES(Reductions)
ORTHO_CPU_EXTERN_TEMPLATES(Fused)
#undef ORTHO_CPU_EXTERN_TEMPLATES

}  // namespace ortho::cpu
