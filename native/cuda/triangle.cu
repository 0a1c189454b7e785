#include <climits>

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

// One block per matrix whose info is 0: the first non-finite diagonal
// element j (a block-wide minimum) becomes info = j + 1.
template <typename T>
static __global__ void nonfinite_pivot_kernel(int64_t batch, Mat<const T> A, int* info) {
  __shared__ int first[kTriangleBlock];
  for (int64_t b = blockIdx.x; b < batch; b += gridDim.x) {
    if (info[b] != 0) continue;  // uniform over the block
    int mine = INT_MAX;
    for (int64_t j = threadIdx.x; j < A.rows; j += blockDim.x)
      if (!isfinite(at(A, b, j, j))) {
        mine = static_cast<int>(j + 1);
        break;
      }
    first[threadIdx.x] = mine;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
      if (threadIdx.x < s) first[threadIdx.x] = std::min(first[threadIdx.x], first[threadIdx.x + s]);
      __syncthreads();
    }
    if (threadIdx.x == 0 && first[0] != INT_MAX) info[b] = first[0];
    __syncthreads();  // first[] is reused for the next matrix
  }
}

template <typename T>
void launchNonFinitePivots(int64_t batch, Mat<const T> A, int* info, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(batch, 65535)));
  nonfinite_pivot_kernel<T><<<blocks, kTriangleBlock, 0, stream>>>(batch, A, info);
  ORTHO_CUDA_CHECK_LAUNCH("nonfinite_pivot_kernel");
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
template void launchNonFinitePivots<float>(int64_t, Mat<const float>, int*, cudaStream_t);
template void launchNonFinitePivots<double>(int64_t, Mat<const double>, int*, cudaStream_t);

}  // namespace ortho::cuda
