// Several Björck steps for one small matrix per block, in shared memory
// (fusedBjorck primitive): w <- w ((1 + beta) I - beta w^T w) (m >= n) or
// w <- ((1 + beta) I - beta w w^T) w (m < n), `steps` times, X -> Y (dense).
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
/// True when an m x n matrix of T fits the kernel (shared memory).
template <typename T>
bool bjorckFusedFits(int64_t m, int64_t n);
template <typename T>
void launchBjorckFused(int64_t batch, Mat<const T> X, Mat<T> Y, int steps, T beta, cudaStream_t stream);
}  // namespace ortho::cuda
