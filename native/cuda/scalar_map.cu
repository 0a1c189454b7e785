#include "common.cuh"
#include "scalar_map.cuh"

namespace ortho::cuda {

constexpr int kScalarMapBlock = 256;

// Same formulas, same order of operations as the CPU backend.
template <typename T>
static __global__ void scalar_map_kernel(int64_t n, ScalarFn f, const T* a, const T* b, T p, T* out) {
  for (int64_t i = globalThread(); i < n; i += gridThreads()) {
    switch (f) {
      case ScalarFn::InvSqrtPlus: out[i] = T(1) / (sqrt(a[i]) + p); break;
      case ScalarFn::InvPlus: out[i] = T(1) / (a[i] + p); break;
      case ScalarFn::Sqrt: out[i] = sqrt(a[i]); break;
      case ScalarFn::Sign: out[i] = a[i] > T(0) ? T(1) : (a[i] < T(0) ? T(-1) : T(0)); break;
      case ScalarFn::Mul: out[i] = p * a[i] * b[i]; break;
      case ScalarFn::DivOrZero: out[i] = b[i] != T(0) ? a[i] / b[i] : T(0); break;
    }
  }
}

template <typename T>
void launchScalarMap(int64_t n, ScalarFn f, const T* a, const T* b, T p, T* out, cudaStream_t stream) {
  scalar_map_kernel<T><<<blocksFor(n, kScalarMapBlock), kScalarMapBlock, 0, stream>>>(n, f, a, b, p, out);
  ORTHO_CUDA_CHECK_LAUNCH("scalar_map_kernel");
}

template void launchScalarMap<float>(int64_t, ScalarFn, const float*, const float*, float, float*, cudaStream_t);
template void launchScalarMap<double>(int64_t, ScalarFn, const double*, const double*, double, double*, cudaStream_t);

}  // namespace ortho::cuda
