// out[g] = sum over group g of x * y (groupDot primitive). Deterministic:
// one block per group, a fixed split over threads and a fixed reduction
// tree, accumulated in double like the CPU backend.
#pragma once

#include "group_index.cuh"

namespace ortho::cuda {
template <typename T>
void launchGroupDot(const GroupIndex& gi, const T* x, const T* y, T* out, cudaStream_t stream);
}
