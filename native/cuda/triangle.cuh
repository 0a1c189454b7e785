// In-place triangle operations on square matrices (triangle primitive): zero the strict upper triangle, or mirror the lower one up.
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
template <typename T>
void launchTriangle(int64_t batch, Mat<T> A, TriOp op, cudaStream_t stream);
}  // namespace ortho::cuda
