// B = A or B = A^T for a batch of matrices (copy primitive); B = triu(A^T).
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
template <typename T>
void launchCopy(int64_t batch, Mat<const T> A, Op op, Mat<T> B, cudaStream_t stream);
/// B = triu(A^T): B's strictly lower elements are written as 0. Coalesced
/// both ways (a shared-memory tile), as the Op::T copy.
template <typename T>
void launchTransposeUpper(int64_t batch, Mat<const T> A, Mat<T> B, cudaStream_t stream);
}
