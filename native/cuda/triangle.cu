#include "common.cuh"
#include "triangle.cuh"

namespace ortho::cuda {

constexpr int kTriangleBlock = 256;

// Visits the strictly upper elements (i < j) only; each writes its own
// element from the lower one (mirror) or zero, so there is no race.
template <typename T>
static __global__ void triangle_kernel(int64_t batch, Mat<T> A, bool mirror) {
  const int64_t n = A.rows, per = n * n, total = batch * per;
  for (int64_t t = globalThread(); t < total; t += gridThreads()) {
    const int64_t b = t / per, r = t % per, i = r / n, j = r % n;
    if (j <= i) continue;
    at(A, b, i, j) = mirror ? at(A, b, j, i) : T(0);
  }
}

template <typename T>
void launchTriangle(int64_t batch, Mat<T> A, TriOp op, cudaStream_t stream) {
  triangle_kernel<T><<<blocksFor(batch * A.rows * A.rows, kTriangleBlock), kTriangleBlock, 0, stream>>>(
      batch, A, op == TriOp::LowerToFull);
  ORTHO_CUDA_CHECK_LAUNCH("triangle_kernel");
}

template void launchTriangle<float>(int64_t, Mat<float>, TriOp, cudaStream_t);
template void launchTriangle<double>(int64_t, Mat<double>, TriOp, cudaStream_t);

}  // namespace ortho::cuda
