// The exponential orthogonalization forward for one small matrix per block
// (fusedExponential primitive): pad X to D x D, A = (P - P^T) / 2,
// H_K = I, H_j = I + (1/j) A H_{j+1} down to H_1, Y = top-left m x n of H_1.
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
/// True when an m x n matrix of T fits the kernel.
template <typename T>
bool exponentialFusedFits(int64_t m, int64_t n);
template <typename T>
void launchExponentialFused(int64_t batch, Mat<const T> X, Mat<T> Y, int K, cudaStream_t stream);
}  // namespace ortho::cuda
