#include "common.cuh"
#include "triangle.cuh"

namespace ortho::cuda {

constexpr int kTriangleBlock = 256;

// Visits the strictly upper elements (i < j) only; each thread owns the
// pair (i, j), (j, i), so there is no race. Modes: zero (i, j); mirror
// (i, j) = (j, i); move down (j, i) = (i, j), then zero (i, j).
enum class TriMode { Zero, Mirror, MoveDown };

template <typename T>
static __global__ void triangle_kernel(int64_t batch, Mat<T> A, TriMode mode) {
  const int64_t n = A.rows, per = n * n, total = batch * per;
  for (int64_t t = globalThread(); t < total; t += gridThreads()) {
    const int64_t b = t / per, r = t % per, i = r / n, j = r % n;
    if (j <= i) continue;
    if (mode == TriMode::MoveDown) at(A, b, j, i) = at(A, b, i, j);
    at(A, b, i, j) = mode == TriMode::Mirror ? at(A, b, j, i) : T(0);
  }
}

template <typename T>
static void launchTriangleMode(int64_t batch, Mat<T> A, TriMode mode, cudaStream_t stream) {
  triangle_kernel<T><<<blocksFor(batch * A.rows * A.rows, kTriangleBlock), kTriangleBlock, 0, stream>>>(batch, A, mode);
  ORTHO_CUDA_CHECK_LAUNCH("triangle_kernel");
}

template <typename T>
void launchTriangle(int64_t batch, Mat<T> A, TriOp op, cudaStream_t stream) {
  launchTriangleMode(batch, A, op == TriOp::LowerToFull ? TriMode::Mirror : TriMode::Zero, stream);
}

template <typename T>
void launchUpperToLower(int64_t batch, Mat<T> A, cudaStream_t stream) {
  launchTriangleMode(batch, A, TriMode::MoveDown, stream);
}

template void launchTriangle<float>(int64_t, Mat<float>, TriOp, cudaStream_t);
template void launchTriangle<double>(int64_t, Mat<double>, TriOp, cudaStream_t);
template void launchUpperToLower<float>(int64_t, Mat<float>, cudaStream_t);
template void launchUpperToLower<double>(int64_t, Mat<double>, cudaStream_t);

}  // namespace ortho::cuda
