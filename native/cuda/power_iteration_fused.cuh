// The whole power-iteration forward for one matrix per block (fusedPowerIteration
// primitive): niter iterations of v = l2n(X^T u), u = l2n(X v) on u, v in
// place, then coef = 1 / (u^T X v + eps) and Y = coef * X (Y dense).
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
/// True when the kernel handles matrices of this size.
bool powerIterationFusedFits(int64_t m, int64_t n);
template <typename T>
void launchPowerIterationFused(int64_t batch, Mat<const T> X, T* u, T* v, int niter, T eps, T* coef, T* Y,
                               cudaStream_t stream);
}  // namespace ortho::cuda
