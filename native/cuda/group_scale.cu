#include "common.cuh"
#include "group_scale.cuh"

namespace ortho::cuda {

constexpr int kGroupScaleBlock = 256;

template <typename T>
static __global__ void group_scale_kernel(GroupIndex gi, int64_t n, const T* a, const T* x, const T* b, const T* y,
                                          T* out) {
  for (int64_t i = globalThread(); i < n; i += gridThreads()) {
    const int64_t g = gi.groupOf(i);
    out[i] = y ? a[g] * x[i] + b[g] * y[i] : a[g] * x[i];
  }
}

template <typename T>
void launchGroupScale(const GroupIndex& gi, int64_t numel, const T* a, const T* x, const T* b, const T* y, T* out,
                      cudaStream_t stream) {
  group_scale_kernel<T><<<blocksFor(numel, kGroupScaleBlock), kGroupScaleBlock, 0, stream>>>(gi, numel, a, x, b, y, out);
  ORTHO_CUDA_CHECK_LAUNCH("group_scale_kernel");
}

template void launchGroupScale<float>(const GroupIndex&, int64_t, const float*, const float*, const float*,
                                      const float*, float*, cudaStream_t);
template void launchGroupScale<double>(const GroupIndex&, int64_t, const double*, const double*, const double*,
                                       const double*, double*, cudaStream_t);

}  // namespace ortho::cuda
