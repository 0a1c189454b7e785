#include "common.cuh"
#include "to_bf16.cuh"

namespace ortho::cuda {

constexpr int kToBf16Block = 256;

// Round to nearest even on the bit pattern (cuda_bf16.h's conversion does
// the same; kept here so the emulator compiles it without that header).
__device__ inline uint16_t bf16Bits(float x) {
  const uint32_t u = __float_as_uint(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // NaN: keep it quiet
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static __global__ void to_bf16_kernel(int64_t count, Mat<const float> A, uint16_t* out) {
  const int64_t per = A.rows * A.cols, total = count * per;
  for (int64_t t = globalThread(); t < total; t += gridThreads()) {
    const int64_t b = t / per, r = t % per;
    out[t] = bf16Bits(at(A, b, r / A.cols, r % A.cols));
  }
}

void launchToBf16(int64_t count, Mat<const float> A, uint16_t* out, cudaStream_t stream) {
  to_bf16_kernel<<<blocksFor(count * A.rows * A.cols, kToBf16Block), kToBf16Block, 0, stream>>>(count, A, out);
  ORTHO_CUDA_CHECK_LAUNCH("to_bf16_kernel");
}

}  // namespace ortho::cuda
