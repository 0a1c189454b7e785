// out[i] = f(a[i], b[i], p) for the ScalarFn formulas (scalarMap primitive).
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
template <typename T>
void launchScalarMap(int64_t n, ScalarFn f, const T* a, const T* b, T p, T* out, cudaStream_t stream);
}  // namespace ortho::cuda
