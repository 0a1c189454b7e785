#include "common.cuh"
#include "group_dot.cuh"

namespace ortho::cuda {

constexpr int kGroupDotBlock = 256;

GroupIndex makeGroupIndex(const GroupLayout& layout) {
  GroupIndex gi;
  const int nd = static_cast<int>(layout.sizes.size());
  if (nd > kMaxGroupDims)
    fail(code::kInternal, ErrorKind::Error, "group layout with ", nd, " dims (at most ", kMaxGroupDims, " expected)");
  gi.groups = layout.groups();
  gi.groupSize = layout.groupSize();
  gi.contiguous = layout.contiguousGroups();
  gi.nAll = nd;
  int64_t mem = 1, grp = 1;
  int nk = 0, nr = 0;
  for (int d = nd - 1; d >= 0; --d) {  // count first, fill below in outer-to-inner order
    if (layout.reduce[d]) ++nr; else ++nk;
  }
  gi.nKept = nk;
  gi.nReduced = nr;
  for (int d = nd - 1; d >= 0; --d) {
    const int64_t s = layout.sizes[d];
    gi.allSize[d] = s;
    if (layout.reduce[d]) {
      --nr;
      gi.reducedSize[nr] = s;
      gi.reducedStride[nr] = mem;
      gi.allGroupStride[d] = 0;
    } else {
      --nk;
      gi.keptSize[nk] = s;
      gi.keptStride[nk] = mem;
      gi.allGroupStride[d] = grp;
      grp *= s;
    }
    mem *= s;
  }
  return gi;
}

template <typename T>
static __global__ void group_dot_kernel(GroupIndex gi, const T* x, const T* y, T* out) {
  __shared__ double partial[kGroupDotBlock];
  for (int64_t g = blockIdx.x; g < gi.groups; g += gridDim.x) {
    const int64_t base = gi.groupBase(g);
    double s = 0;
    for (int64_t j = threadIdx.x; j < gi.groupSize; j += kGroupDotBlock) {
      const int64_t o = base + gi.withinGroup(j);
      s += double(x[o]) * double(y[o]);
    }
    partial[threadIdx.x] = s;
    __syncthreads();
    for (int h = kGroupDotBlock / 2; h > 0; h >>= 1) {
      if (threadIdx.x < h) partial[threadIdx.x] += partial[threadIdx.x + h];
      __syncthreads();
    }
    if (threadIdx.x == 0) out[g] = static_cast<T>(partial[0]);
    __syncthreads();  // partial[0] is read before the next group overwrites it
  }
}

template <typename T>
void launchGroupDot(const GroupIndex& gi, const T* x, const T* y, T* out, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(gi.groups, 1), kMaxBlocks));
  group_dot_kernel<T><<<blocks, kGroupDotBlock, 0, stream>>>(gi, x, y, out);
  ORTHO_CUDA_CHECK_LAUNCH("group_dot_kernel");
}

template void launchGroupDot<float>(const GroupIndex&, const float*, const float*, float*, cudaStream_t);
template void launchGroupDot<double>(const GroupIndex&, const double*, const double*, double*, cudaStream_t);

}  // namespace ortho::cuda
