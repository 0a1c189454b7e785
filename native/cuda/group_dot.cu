#include "common.cuh"
#include "group_dot.cuh"

namespace ortho::cuda {

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

// Block c sums chunk c % chunks of group c / chunks: elements
// [q * chunkSize, min((q + 1) * chunkSize, groupSize)). With chunks == 1
// the sum goes to out[g]; otherwise to partials[c] (double), which
// group_sum_kernel adds up.
template <typename T>
static __global__ void group_dot_kernel(GroupIndex gi, const T* x, const T* y, int64_t chunks, int64_t chunkSize,
                                        T* out, double* partials) {
  __shared__ double scratch[kGroupDotBlock / 32];
  for (int64_t c = blockIdx.x; c < gi.groups * chunks; c += gridDim.x) {
    const int64_t g = c / chunks, lo = (c % chunks) * chunkSize;
    const int64_t hi = lo + chunkSize < gi.groupSize ? lo + chunkSize : gi.groupSize;
    const int64_t base = gi.groupBase(g);
    double s = 0;
    for (int64_t j = lo + threadIdx.x; j < hi; j += kGroupDotBlock) {
      const int64_t o = base + gi.withinGroup(j);
      s += double(x[o]) * double(y[o]);
    }
    const double total = blockSum(s, scratch);
    if (threadIdx.x == 0) {
      if (chunks == 1) out[g] = static_cast<T>(total);
      else partials[c] = total;
    }
  }
}

// out[g] = the sum of group g's `chunks` partial sums.
template <typename T>
static __global__ void group_sum_kernel(int64_t groups, int64_t chunks, const double* partials, T* out) {
  __shared__ double scratch[kGroupDotBlock / 32];
  for (int64_t g = blockIdx.x; g < groups; g += gridDim.x) {
    double s = 0;
    for (int64_t q = threadIdx.x; q < chunks; q += kGroupDotBlock) s += partials[g * chunks + q];
    const double total = blockSum(s, scratch);
    if (threadIdx.x == 0) out[g] = static_cast<T>(total);
  }
}

int64_t groupDotChunks(const GroupIndex& gi) {
  // One block per group is enough when there are many groups; a few large
  // groups (one whole 4096 x 4096 matrix) would leave all but a few SMs idle,
  // so those are split into chunks of kGroupDotChunk elements.
  if (gi.groups >= kGroupDotSplitBelowGroups || gi.groupSize <= kGroupDotChunk) return 1;
  return (gi.groupSize + kGroupDotChunk - 1) / kGroupDotChunk;
}

template <typename T>
void launchGroupDot(const GroupIndex& gi, int64_t chunks, const T* x, const T* y, T* out, double* partials,
                    cudaStream_t stream) {
  const int64_t chunkSize = chunks == 1 ? gi.groupSize : kGroupDotChunk;
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(gi.groups * chunks, 1), kMaxBlocks));
  group_dot_kernel<T><<<blocks, kGroupDotBlock, 0, stream>>>(gi, x, y, chunks, chunkSize, out, partials);
  ORTHO_CUDA_CHECK_LAUNCH("group_dot_kernel");
  if (chunks == 1) return;
  const unsigned sumBlocks = static_cast<unsigned>(std::min<int64_t>(gi.groups, kMaxBlocks));
  group_sum_kernel<T><<<sumBlocks, kGroupDotBlock, 0, stream>>>(gi.groups, chunks, partials, out);
  ORTHO_CUDA_CHECK_LAUNCH("group_sum_kernel");
}

template void launchGroupDot<float>(const GroupIndex&, int64_t, const float*, const float*, float*, double*,
                                    cudaStream_t);
template void launchGroupDot<double>(const GroupIndex&, int64_t, const double*, const double*, double*, double*,
                                     cudaStream_t);

}  // namespace ortho::cuda
