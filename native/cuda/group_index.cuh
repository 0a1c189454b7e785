// Index arithmetic for GroupLayout on the device: which elements form group
// g (groupDot) and which group element i belongs to (groupScale). Built on
// the host, passed to kernels by value.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "../core/backend.h"

namespace ortho::cuda {

/// Size-1 dims are dropped and equal neighbours merged, so every dim of a
/// layout is >= 2; with at most 2^40 elements there are at most 40 dims.
constexpr int kMaxGroupDims = 40;

struct GroupIndex {
  int64_t groups = 0, groupSize = 0;
  bool contiguous = false;  ///< group g is elements [g * groupSize, (g + 1) * groupSize)
  int nKept = 0, nReduced = 0, nAll = 0;
  int64_t keptSize[kMaxGroupDims], keptStride[kMaxGroupDims];        // memory strides of the kept dims
  int64_t reducedSize[kMaxGroupDims], reducedStride[kMaxGroupDims];  // and of the reduced ones
  int64_t allSize[kMaxGroupDims], allGroupStride[kMaxGroupDims];     // per dim: step in group index (0 if reduced)

#ifdef __CUDACC__
  /// Memory offset of the first element of group g.
  __device__ int64_t groupBase(int64_t g) const {
    return contiguous ? g * groupSize : mixedRadix(g, keptSize, keptStride, nKept);
  }
  /// Memory offset of the j-th element (memory order) within a group.
  __device__ int64_t withinGroup(int64_t j) const {
    return contiguous ? j : mixedRadix(j, reducedSize, reducedStride, nReduced);
  }
  /// The group of element i.
  __device__ int64_t groupOf(int64_t i) const {
    return contiguous ? i / groupSize : mixedRadix(i, allSize, allGroupStride, nAll);
  }
  /// Splits index into digits of the sizes (last one fastest) and sums
  /// digit * step.
  __device__ static int64_t mixedRadix(int64_t index, const int64_t* size, const int64_t* step, int nd) {
    int64_t off = 0;
    for (int d = nd - 1; d >= 0; --d) {
      off += (index % size[d]) * step[d];
      index /= size[d];
    }
    return off;
  }
#endif
};

/// Throws ERR_ORTHO_INTERNAL if the layout has more dims than can exist.
GroupIndex makeGroupIndex(const GroupLayout& layout);

}  // namespace ortho::cuda
