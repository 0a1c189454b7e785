// out = a[g] * x (+ b[g] * y when y is not null), per element of group g
// (groupScale primitive). out may equal x or y.
#pragma once

#include "group_index.cuh"

namespace ortho::cuda {
template <typename T>
void launchGroupScale(const GroupIndex& gi, int64_t numel, const T* a, const T* x, const T* b, const T* y, T* out,
                      cudaStream_t stream);
}
