// Device arrays of per-matrix pointers for the batched cuBLAS/cuSOLVER calls, built on the device (no host-to-device copy): out[b] = base + b * strideBytes.
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
void launchPointerArray(int64_t count, const void* base, int64_t strideBytes, void** out, cudaStream_t stream);
}  // namespace ortho::cuda
