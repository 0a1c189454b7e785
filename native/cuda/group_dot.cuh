// out[g] = sum over group g of x * y (groupDot primitive). Deterministic:
// a fixed split over blocks and threads and fixed reduction trees,
// accumulated in double like the CPU backend. Many groups: one block per
// group. A few large groups: each split into chunks of kGroupDotChunk
// elements, one block per chunk writing a double partial sum, then one block
// per group adding its partials in order.
#pragma once

#include "group_index.cuh"

namespace ortho::cuda {

constexpr int kGroupDotBlock = 256;
/// Elements per chunk when a group is split (32 per thread).
constexpr int64_t kGroupDotChunk = 32 * kGroupDotBlock;
/// Groups are split only when there are fewer of them than this.
constexpr int64_t kGroupDotSplitBelowGroups = 1024;

/// Chunks per group (1: not split); the partials buffer holds
/// groups * chunks doubles when this is above 1.
int64_t groupDotChunks(const GroupIndex& gi);

/// `chunks`: groupDotChunks(gi); `partials`: groups * chunks doubles, or
/// null when chunks is 1.
template <typename T>
void launchGroupDot(const GroupIndex& gi, int64_t chunks, const T* x, const T* y, T* out, double* partials,
                    cudaStream_t stream);
}  // namespace ortho::cuda
