#include "common.cuh"
#include "sort_descending.cuh"

namespace ortho::cuda {

constexpr int kSortBlock = 128;

// Insertion sort of one short run per thread (used for k <= 32).
template <typename T>
static __global__ void sort_descending_kernel(int64_t batch, int64_t k, T* values) {
  for (int64_t b = globalThread(); b < batch; b += gridThreads()) {
    T* v = values + b * k;
    for (int64_t i = 1; i < k; ++i) {
      const T x = v[i];
      int64_t j = i - 1;
      while (j >= 0 && v[j] < x) {
        v[j + 1] = v[j];
        --j;
      }
      v[j + 1] = x;
    }
  }
}

template <typename T>
void launchSortDescending(int64_t batch, int64_t k, T* values, cudaStream_t stream) {
  sort_descending_kernel<T><<<blocksFor(batch, kSortBlock), kSortBlock, 0, stream>>>(batch, k, values);
  ORTHO_CUDA_CHECK_LAUNCH("sort_descending_kernel");
}

template void launchSortDescending<float>(int64_t, int64_t, float*, cudaStream_t);
template void launchSortDescending<double>(int64_t, int64_t, double*, cudaStream_t);

}  // namespace ortho::cuda
