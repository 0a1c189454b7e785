// Internal hooks for bench/ only (not exported from lib/index.ts): they time
// a backend primitive natively so that benchmarks can state how close an op
// comes to the machine's GEMM ceiling, measured through the very batched
// GEMM the ops call.
#include <napi.h>

#include <chrono>
#include <cmath>
#include <vector>

#include "../core/backend.h"
#include "../core/tensor.h"
#include "args.h"
#include "bench_hooks.h"
#include "errors.h"

namespace ortho::napi {
namespace {

int64_t argCount(const Napi::CallbackInfo& info, std::size_t i, const char* name, int64_t max) {
  Napi::Value v = arg(info, i);
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!std::isfinite(d) || d != std::floor(d) || d < 1 || d > double(max))
    fail(code::kInvalidArg, ErrorKind::RangeError, name, " must be an integer in [1, ", max, "]");
  return static_cast<int64_t>(d);
}

template <typename T>
std::vector<double> timeGemm(Backend& be, int64_t batch, int64_t m, int64_t n, int64_t k, int64_t reps) {
  TensorPtr a = TensorImpl::empty({batch, m, k}, DTypeOf<T>::value, be.device());
  TensorPtr b = TensorImpl::empty({batch, k, n}, DTypeOf<T>::value, be.device());
  TensorPtr c = TensorImpl::empty({batch, m, n}, DTypeOf<T>::value, be.device());
  Primitives<T>& p = be.prims<T>();
  // Values in [-1, 1): no denormals, no overflow whatever the size.
  p.fill(1, Mat<T>::dense(a->template data<T>(), 1, a->numel()), T(0.5));
  p.fill(1, Mat<T>::dense(b->template data<T>(), 1, b->numel()), T(-0.25));
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(reps));
  for (int64_t r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    p.gemm(batch, T(1), a->template mat<T>(), Op::N, b->template mat<T>(), Op::N, T(0), c->template mat<T>());
    be.synchronize();
    out.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return out;
}

// benchBackendGemm(dtype, device, batch, m, n, k, reps): seconds per call of
// the backend's batched C = A B (row-major, beta 0), one entry per rep.
Napi::Value BenchBackendGemm(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    DType dt = argDtype(info, 0);
    Device dev = argDevice(info, 1);
    const int64_t batch = argCount(info, 2, "batch", 1 << 20), m = argCount(info, 3, "m", 1 << 16),
                  n = argCount(info, 4, "n", 1 << 16), k = argCount(info, 5, "k", 1 << 16),
                  reps = argCount(info, 6, "reps", 100000);
    if (batch * (m * k + k * n + m * n) > (int64_t(1) << 31))
      fail(code::kInvalidArg, ErrorKind::RangeError, "benchBackendGemm: operands too large");
    Backend& be = backendFor(dev);
    auto lock = be.lockForOperation();
    std::vector<double> t = dispatchDtype(dt, [&](auto tag) {
      using T = decltype(tag);
      return timeGemm<T>(be, batch, m, n, k, reps);
    });
    Napi::Float64Array arr = Napi::Float64Array::New(info.Env(), t.size());
    for (std::size_t i = 0; i < t.size(); ++i) arr[i] = t[i];
    return arr;
  });
}

}  // namespace

void registerBenchHooks(Napi::Env env, Napi::Object exports) {
  exports.Set("benchBackendGemm", Napi::Function::New(env, BenchBackendGemm, "benchBackendGemm"));
}

}  // namespace ortho::napi
