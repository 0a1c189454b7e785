// After geqrf on F (each matrix stored as the row-major n x m F = factored^T, i.e. column-major m x n): R (n x n, row-major) = upper triangle of the factored matrix, zeros below; F is turned into V^T (the unit lower Householder vectors, transposed) in place.
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
template <typename T>
void launchQrUnpack(int64_t batch, Mat<T> F, Mat<T> R, cudaStream_t stream);
}  // namespace ortho::cuda
