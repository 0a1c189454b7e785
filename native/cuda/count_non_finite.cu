#include "common.cuh"
#include "count_non_finite.cuh"

namespace ortho::cuda {

constexpr int kCountBlock = 256;
constexpr int64_t kCountMaxBlocks = 1024;  // one atomic per block: few blocks

// Per-block count in shared memory, then one integer atomic per block
// (integer sums are exact, so the result does not depend on the order).
template <typename T>
static __global__ void count_non_finite_kernel(int64_t n, const T* x, unsigned long long* count) {
  __shared__ unsigned long long partial[kCountBlock];
  unsigned long long c = 0;
  for (int64_t i = globalThread(); i < n; i += gridThreads()) c += isfinite(x[i]) ? 0 : 1;
  partial[threadIdx.x] = c;
  __syncthreads();
  for (int s = kCountBlock / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0 && partial[0]) atomicAdd(count, partial[0]);
}

template <typename T>
void launchCountNonFinite(int64_t n, const T* x, unsigned long long* count, cudaStream_t stream) {
  ORTHO_CUDA_CHECK(cudaMemsetAsync(count, 0, sizeof(unsigned long long), stream));
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(blocksFor(n, kCountBlock), kCountMaxBlocks));
  count_non_finite_kernel<T><<<blocks, kCountBlock, 0, stream>>>(n, x, count);
  ORTHO_CUDA_CHECK_LAUNCH("count_non_finite_kernel");
}

template void launchCountNonFinite<float>(int64_t, const float*, unsigned long long*, cudaStream_t);
template void launchCountNonFinite<double>(int64_t, const double*, unsigned long long*, cudaStream_t);

}  // namespace ortho::cuda
