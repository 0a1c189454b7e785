// Module registration and the free functions of the binding (see
// binding.d.ts for the types).
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "../core/random.h"
#include "../ops/module.h"
#include "../ops/module_registry.h"
#include "../ops/polar.h"
#include "args.h"
#include "bench_hooks.h"
#include "errors.h"
#include "job.h"
#include "module_handle.h"
#include "registry.h"
#include "tensor_handle.h"

namespace ortho::napi {

std::shared_ptr<Registry> Registry::of(Napi::Env env) {
  auto* holder = env.GetInstanceData<std::shared_ptr<Registry>>();
  return holder ? *holder : nullptr;
}

void Registry::add(const void* key, napi_ref ref, std::function<void()> release) {
  if (unswept.size() - keptBySweep >= std::max<std::size_t>(1024, keptBySweep)) sweep();
  live[key] = LiveHandle{ref, std::move(release), true};
  unswept.push_back(key);
}

void Registry::sweep() {
  std::vector<const void*> kept;
  for (const void* key : unswept) {
    auto it = live.find(key);
    if (it == live.end() || !it->second.release || !it->second.queued) continue;  // destroyed, released or seen
    it->second.queued = false;
    napi_value v = nullptr;
    if (it->second.ref && napi_get_reference_value(env, it->second.ref, &v) == napi_ok && v == nullptr) {
      auto release = std::move(it->second.release);
      it->second.release = nullptr;
      release();
    } else {
      kept.push_back(key);
    }
  }
  for (const void* key : kept) live[key].queued = true;
  unswept.swap(kept);
  keptBySweep = unswept.size();
}

namespace {

// tensorFromArray(data: Float32Array | Float64Array, shape, dtype, device)
Napi::Value TensorFromArray(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Value v = arg(info, 0);
    if (!v.IsTypedArray()) fail(code::kInvalidArg, ErrorKind::TypeError, "data must be a Float32Array or a Float64Array");
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    DType src;
    if (ta.TypedArrayType() == napi_float32_array)
      src = DType::Float32;
    else if (ta.TypedArrayType() == napi_float64_array)
      src = DType::Float64;
    else
      fail(code::kDtype, ErrorKind::TypeError, "data must be a Float32Array or a Float64Array");
    Shape shape = argShape(info, 1, "shape");
    DType dt = argDtype(info, 2);
    Device dev = argDevice(info, 3);
    if (static_cast<int64_t>(ta.ElementLength()) != numel(shape))
      fail(code::kShape, ErrorKind::RangeError, "data has ", ta.ElementLength(), " elements but shape ", shapeStr(shape),
           " needs ", numel(shape));
    const auto* bytes = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    Backend& be = backendFor(dev);
    auto lock = be.lockForOperation();
    // Copied now: later writes to the typed array do not reach the tensor.
    return TensorHandle::Wrap(info.Env(), TensorImpl::fromHost(shape, dt, dev, bytes, src));
  });
}

// tensorRandn(shape, dtype, device, seed?: number | bigint)
Napi::Value TensorRandn(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Shape shape = argShape(info, 0, "shape");
    DType dt = argDtype(info, 1);
    Device dev = argDevice(info, 2);
    uint64_t seed;
    Napi::Value s = arg(info, 3);
    if (s.IsUndefined() || s.IsNull()) {
      seed = randomSeed();
    } else if (s.IsBigInt()) {
      bool lossless;
      seed = s.As<Napi::BigInt>().Uint64Value(&lossless);
    } else if (s.IsNumber()) {
      double d = s.As<Napi::Number>().DoubleValue();
      if (!std::isfinite(d) || d != std::floor(d) || d < 0 || d > 9007199254740991.0)
        fail(code::kInvalidArg, ErrorKind::RangeError, "seed must be a non-negative safe integer or a bigint, got ", d);
      seed = static_cast<uint64_t>(d);
    } else {
      fail(code::kInvalidArg, ErrorKind::TypeError, "seed must be a non-negative integer or a bigint");
    }
    Backend& be = backendFor(dev);
    std::vector<double> vals = normalSamples(seed, numel(shape));
    auto lock = be.lockForOperation();
    return TensorHandle::Wrap(info.Env(), TensorImpl::fromHost(shape, dt, dev, vals.data(), DType::Float64));
  });
}

// tensorFill(kind: 'zeros' | 'eye', shape, dtype, device)
Napi::Value TensorFill(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    std::string kind = argString(info, 0, "kind");
    Shape shape = argShape(info, 1, "shape");
    DType dt = argDtype(info, 2);
    Device dev = argDevice(info, 3);
    if (kind == "eye") checkMatrixShape(shape, "shape");
    if (kind != "zeros" && kind != "eye") fail(code::kInvalidArg, ErrorKind::TypeError, "kind must be 'zeros' or 'eye'");
    // Filled in place on the device by the backend's primitives: no host
    // staging buffer (it took 8 bytes per element, twice a float32 tensor).
    Backend& be = backendFor(dev);
    auto lock = be.lockForOperation();
    TensorPtr t = TensorImpl::empty(shape, dt, dev);
    dispatchDtype(dt, [&](auto tag) {
      using T = decltype(tag);
      Primitives<T>& p = be.prims<T>();
      p.fill(1, Mat<T>::dense(t->template data<T>(), 1, t->numel()), T(0));
      if (kind == "eye") p.addDiagonal(MatrixDims::of(shape).batch, t->template mat<T>(), T(1));
    });
    return TensorHandle::Wrap(info.Env(), t);
  });
}

// A diagnostic by name, sync or as a Promise.
template <TensorPtr (*Fn)(const TensorPtr&)>
Napi::Value DiagnosticSync(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return TensorHandle::Wrap(info.Env(), Fn(argTensor(info, 0, "the tensor"))); });
}
template <TensorPtr (*Fn)(const TensorPtr&)>
Napi::Value DiagnosticAsync(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    TensorPtr t = argTensor(info, 0, "the tensor");
    return TensorJob::run(info.Env(), [t] { return Fn(t); });
  });
}

// The polar module's coefficient schedule for a lower bound: [[a, b, c], ...].
Napi::Value PolarSchedule(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Value v = arg(info, 0);
    if (!v.IsNumber()) fail(code::kInvalidArg, ErrorKind::TypeError, "lowerBound must be a number");
    const std::vector<ops::Quintic> s = ops::polarSchedule(v.As<Napi::Number>().DoubleValue());
    Napi::Array out = Napi::Array::New(info.Env(), s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
      Napi::Array q = Napi::Array::New(info.Env(), 3);
      for (uint32_t j = 0; j < 3; ++j) q.Set(j, s[i][j]);
      out.Set(static_cast<uint32_t>(i), q);
    }
    return out;
  });
}

// { kind: { option: default } } for every registered module kind
// (ops/module_registry.h): the defaults the TypeScript classes show.
Napi::Value ModuleDefaults(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    for (const ops::ModuleKind& k : ops::moduleKinds()) {
      Napi::Object defaults = Napi::Object::New(env);
      std::vector<ops::Option> all = ops::commonOptions();
      all.insert(all.end(), k.options.begin(), k.options.end());
      for (const ops::Option& o : all) {
        switch (o.type) {
          case ops::OptionType::Bool:
            defaults.Set(o.name, Napi::Boolean::New(env, o.number != 0));
            break;
          case ops::OptionType::Int:
          case ops::OptionType::Number:
            defaults.Set(o.name, Napi::Number::New(env, o.number));
            break;
          case ops::OptionType::String:
            defaults.Set(o.name, Napi::String::New(env, o.text));
            break;
          default:  // optional: no default
            break;
        }
      }
      out.Set(k.kind, defaults);
    }
    return out;
  });
}

Napi::Value Backends(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    std::vector<BackendInfo> list = listBackends();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (std::size_t i = 0; i < list.size(); ++i) {
      const BackendInfo& b = list[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", b.name);
      o.Set("available", b.available);
      if (!b.available) o.Set("reason", b.reason);
      if (b.name == "cpu") {
        o.Set("threads", b.threads);
        auto strings = [&](const std::vector<std::string>& v) {
          Napi::Array a = Napi::Array::New(env, v.size());
          for (std::size_t k = 0; k < v.size(); ++k) a.Set(static_cast<uint32_t>(k), v[k]);
          return a;
        };
        if (!b.level.empty()) o.Set("level", b.level);
        o.Set("levels", strings(b.levels));
        if (!b.cpuLevel.empty()) {
          o.Set("cpuLevel", b.cpuLevel);
          o.Set("features", strings(b.features));
        }
      }
      if (b.name == "cuda" && b.available) {
        o.Set("deviceCount", b.deviceCount);
        Napi::Array names = Napi::Array::New(env, b.devices.size());
        for (std::size_t k = 0; k < b.devices.size(); ++k) names.Set(static_cast<uint32_t>(k), b.devices[k]);
        o.Set("devices", names);
      }
      if (!b.detail.empty()) o.Set("detail", b.detail);
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  });
}

// cudaLibraries(): cuBLAS/cuSOLVER loaded on their own (no GPU needed).
Napi::Value CudaLibraries(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const CudaLibrariesInfo libs = cudaLibraries();
    Napi::Object o = Napi::Object::New(env);
    o.Set("built", libs.built);
    o.Set("ok", libs.ok);
    if (libs.ok) {
      o.Set("versions", libs.versions);
      Napi::Array files = Napi::Array::New(env, libs.files.size());
      for (std::size_t k = 0; k < libs.files.size(); ++k) files.Set(static_cast<uint32_t>(k), libs.files[k]);
      o.Set("files", files);
    } else {
      o.Set("reason", libs.reason);
    }
    return o;
  });
}

// cudaMemory(index): a CUDA device's allocator and memory (tests, diagnostics).
Napi::Value CudaMemory(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Value v = arg(info, 0);
    if (!v.IsNumber() || v.As<Napi::Number>().DoubleValue() != v.As<Napi::Number>().Int32Value())
      fail(code::kInvalidArg, ErrorKind::TypeError, "cudaMemory: the device index must be an integer");
    const CudaMemoryInfo m = cudaMemory(v.As<Napi::Number>().Int32Value());
    Napi::Object o = Napi::Object::New(env);
    o.Set("liveBytes", static_cast<double>(m.liveBytes));
    o.Set("cachedBytes", static_cast<double>(m.cachedBytes));
    o.Set("maxCachedBytes", static_cast<double>(m.maxCachedBytes));
    o.Set("deviceFreeBytes", static_cast<double>(m.deviceFreeBytes));
    o.Set("deviceTotalBytes", static_cast<double>(m.deviceTotalBytes));
    return o;
  });
}

// Why a cleanup hook: in a worker thread the environment can end long
// before the process, and finalizers are not guaranteed to run then.
void Cleanup(void* arg) {
  auto* holder = static_cast<std::shared_ptr<Registry>*>(arg);
  Registry& reg = **holder;
  reg.closed = true;
  auto live = reg.live;  // release callbacks may not erase while we iterate
  for (auto& [key, h] : live)
    if (h.release) h.release();
  delete holder;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* holder = new std::shared_ptr<Registry>(std::make_shared<Registry>());
  (*holder)->env = env;
  env.SetInstanceData<std::shared_ptr<Registry>>(holder);  // deleted with the env
  // The hook owns its own reference: the instance data may be finalized first.
  napi_add_env_cleanup_hook(env, Cleanup, new std::shared_ptr<Registry>(*holder));

  Napi::Function tensorCtor = TensorHandle::Define(env);
  Napi::Function moduleCtor = ModuleHandle::Define(env);
  (*holder)->tensorCtor = Napi::Persistent(tensorCtor);
  (*holder)->moduleCtor = Napi::Persistent(moduleCtor);

  exports.Set("NativeTensor", tensorCtor);
  exports.Set("NativeModule", moduleCtor);
  exports.Set("createChain", Napi::Function::New(env, ModuleHandle::CreateChain, "createChain"));
  exports.Set("tensorFromArray", Napi::Function::New(env, TensorFromArray, "tensorFromArray"));
  exports.Set("tensorRandn", Napi::Function::New(env, TensorRandn, "tensorRandn"));
  exports.Set("tensorFill", Napi::Function::New(env, TensorFill, "tensorFill"));
  exports.Set("singularValuesSync", Napi::Function::New(env, DiagnosticSync<ops::singularValues>, "singularValuesSync"));
  exports.Set("singularValues", Napi::Function::New(env, DiagnosticAsync<ops::singularValues>, "singularValues"));
  exports.Set("orthogonalityErrorSync",
              Napi::Function::New(env, DiagnosticSync<ops::orthogonalityError>, "orthogonalityErrorSync"));
  exports.Set("orthogonalityError",
              Napi::Function::New(env, DiagnosticAsync<ops::orthogonalityError>, "orthogonalityError"));
  exports.Set("backends", Napi::Function::New(env, Backends, "backends"));
  exports.Set("moduleDefaults", Napi::Function::New(env, ModuleDefaults, "moduleDefaults"));
  exports.Set("polarSchedule", Napi::Function::New(env, PolarSchedule, "polarSchedule"));
  exports.Set("cudaLibraries", Napi::Function::New(env, CudaLibraries, "cudaLibraries"));
  exports.Set("cudaMemory", Napi::Function::New(env, CudaMemory, "cudaMemory"));
  registerBenchHooks(env, exports);  // internal: bench/ only
  return exports;
}

}  // namespace ortho::napi

static Napi::Object InitOrthogonium(Napi::Env env, Napi::Object exports) { return ortho::napi::Init(env, exports); }

NODE_API_MODULE(orthogonium, InitOrthogonium)
