// In-place triangle operations on square matrices (triangle primitive): zero the strict upper triangle, or mirror
// the lower one up; and (for potrf) move the upper triangle down.
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
template <typename T>
void launchTriangle(int64_t batch, Mat<T> A, TriOp op, cudaStream_t stream);
/// A = triu(A, 1)^T + diag(A): the strict upper triangle transposed into
/// the lower one, then zeroed (row-major; the lower triangle is overwritten).
template <typename T>
void launchUpperToLower(int64_t batch, Mat<T> A, cudaStream_t stream);
/// For potrf's contract: where info[b] (device) is 0, sets it to j + 1 for
/// the first diagonal element L(j, j) that is not finite (cuSOLVER, like
/// LAPACK, passes an infinite pivot).
template <typename T>
void launchNonFinitePivots(int64_t batch, Mat<const T> A, int* info, cudaStream_t stream);
}  // namespace ortho::cuda
