// float32 matrices rounded to bfloat16 (the 'bf16' precision's GEMM inputs).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "../core/backend.h"

namespace ortho::cuda {
/// out[b * rows * cols + i * cols + j] = bf16(A(b, i, j)) for b < count:
/// dense, rounded to nearest even (NaN stays NaN, overflow goes to
/// infinity), as raw bfloat16 bits.
void launchToBf16(int64_t count, Mat<const float> A, uint16_t* out, cudaStream_t stream);
}  // namespace ortho::cuda
