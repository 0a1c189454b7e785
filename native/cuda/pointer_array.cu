#include "common.cuh"
#include "pointer_array.cuh"

namespace ortho::cuda {

constexpr int kPointerArrayBlock = 256;

static __global__ void pointer_array_kernel(int64_t count, const char* base, int64_t strideBytes, void** out) {
  for (int64_t b = globalThread(); b < count; b += gridThreads())
    out[b] = const_cast<char*>(base) + b * strideBytes;
}

void launchPointerArray(int64_t count, const void* base, int64_t strideBytes, void** out, cudaStream_t stream) {
  pointer_array_kernel<<<blocksFor(count, kPointerArrayBlock), kPointerArrayBlock, 0, stream>>>(
      count, static_cast<const char*>(base), strideBytes, out);
  ORTHO_CUDA_CHECK_LAUNCH("pointer_array_kernel");
}

}  // namespace ortho::cuda
