// UT transform of the Householder vectors: G (n x n, = V^T V on entry) becomes U = I + striu(G) diag(tau): U(i, j) = 1 on the diagonal, G(i, j) tau_j above, 0 below. tau: n per matrix, contiguous.
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
template <typename T>
void launchQrUtMatrix(int64_t batch, Mat<T> G, const T* tau, cudaStream_t stream);
}  // namespace ortho::cuda
