// QR sign fix (qrSignFix primitive): s_j = sign(R(j, j)) with sign(0) = 0; column j of Q and row j of R times s_j.
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
template <typename T>
void launchQrSignFix(int64_t batch, Mat<T> Q, Mat<T> R, cudaStream_t stream);
}  // namespace ortho::cuda
