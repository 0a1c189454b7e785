// The Cholesky orthogonalization forward for one small matrix per warp
// (fusedCholesky primitive): S = X X^T + shift I, L = chol(S) (strict upper
// triangle zero), W = L^{-1} X; info[b] (host) as potrf's. And its backward
// (fusedCholeskyBackward), one matrix per block.
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
/// True when an m x n matrix of T fits the kernel.
template <typename T>
bool choleskyFusedFits(int64_t m, int64_t n);
/// info: device, batch ints.
template <typename T>
void launchCholeskyFused(int64_t batch, Mat<const T> X, T shift, Mat<T> L, Mat<T> W, int* info, cudaStream_t stream);
/// True when an m x n matrix of T fits the backward kernel.
template <typename T>
bool choleskyBackwardFusedFits(int64_t m, int64_t n);
/// The backward of ops/cholesky.cpp for one small matrix per block; X.data
/// null for the default form, X for the stable one.
template <typename T>
void launchCholeskyBackwardFused(int64_t batch, Mat<const T> L, Mat<const T> W, Mat<const T> X, Mat<const T> G,
                                 Mat<T> dX, cudaStream_t stream);
}  // namespace ortho::cuda
