#include "module_handle.h"

#include <cmath>

#include "../ops/polar.h"
#include "../ops/module_registry.h"

#include "args.h"
#include "errors.h"
#include "job.h"
#include "tensor_handle.h"

namespace ortho::napi {
namespace {

int optInt(Napi::Object o, const char* key, int def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 1e9)
    fail(code::kInvalidArg, ErrorKind::TypeError, key, " must be an integer");
  return static_cast<int>(d);
}

double optNumber(Napi::Object o, const char* key, double def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsNumber()) fail(code::kInvalidArg, ErrorKind::TypeError, key, " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool optBool(Napi::Object o, const char* key, bool def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsBoolean()) fail(code::kInvalidArg, ErrorKind::TypeError, key, " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

// One option by its type (ops/module_registry.h); absent: the schema's default, or
// nothing for the optional types.
void readOption(Napi::Object obj, const ops::Option& spec, ops::Options& o) {
  const char* key = spec.name.c_str();
  Napi::Value v = obj.Get(key);
  ops::Options::Value val;
  val.number = spec.number;
  val.text = spec.text;
  switch (spec.type) {
    case ops::OptionType::Bool:
      val.number = optBool(obj, key, spec.number != 0) ? 1 : 0;
      break;
    case ops::OptionType::Int:
      val.number = optInt(obj, key, static_cast<int>(spec.number));
      break;
    case ops::OptionType::Number:
      val.number = optNumber(obj, key, spec.number);
      break;
    case ops::OptionType::String:
      if (!v.IsUndefined()) {
        if (!v.IsString()) fail(code::kInvalidArg, ErrorKind::TypeError, key, " must be a string");
        val.text = v.As<Napi::String>().Utf8Value();
      }
      break;
    case ops::OptionType::OptionalNumber:
      if (v.IsUndefined() || v.IsNull()) return;
      val.number = optNumber(obj, key, 0);
      break;
    case ops::OptionType::Seed:
      if (v.IsBigInt()) {
        bool lossless = false;
        val.seed = v.As<Napi::BigInt>().Uint64Value(&lossless);
      } else if (v.IsNumber()) {
        double d = v.As<Napi::Number>().DoubleValue();
        if (!std::isfinite(d) || d != std::floor(d) || d < 0 || d > 9007199254740991.0)
          fail(code::kInvalidArg, ErrorKind::RangeError, key, " must be a non-negative safe integer or a bigint");
        val.seed = static_cast<uint64_t>(d);
      } else if (v.IsUndefined()) {
        return;
      } else {
        fail(code::kInvalidArg, ErrorKind::TypeError, key, " must be a non-negative integer or a bigint");
      }
      break;
    case ops::OptionType::Dims:
      if (v.IsNumber()) {
        val.list = {optInt(obj, key, 0)};
      } else if (v.IsArray()) {
        Napi::Array a = v.As<Napi::Array>();
        for (uint32_t i = 0; i < a.Length(); ++i) {
          Napi::Value e = a.Get(i);
          double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : NAN;
          if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 64)
            fail(code::kInvalidArg, ErrorKind::TypeError, key, "[", i, "] must be an integer");
          val.list.push_back(static_cast<int>(d));
        }
      } else if (v.IsUndefined() || v.IsNull()) {
        return;
      } else {
        fail(code::kInvalidArg, ErrorKind::TypeError, key, " must be an integer or an array of integers");
      }
      break;
  }
  o.set(spec.name, std::move(val));
}

// The options of module kind k, by its schema (keys it does not declare are
// ignored: OrthoParams hands seed to both of its modules).
ops::Options readOptions(const ops::ModuleKind& k, Napi::Value v) {
  if (!v.IsUndefined() && !v.IsObject()) fail(code::kInvalidArg, ErrorKind::TypeError, "options must be an object");
  Napi::Object obj = v.IsUndefined() ? Napi::Object::New(v.Env()) : v.As<Napi::Object>();
  ops::Options o;
  for (const ops::Option& spec : ops::commonOptions()) readOption(obj, spec, o);
  for (const ops::Option& spec : k.options) readOption(obj, spec, o);
  return o;
}

}  // namespace

Napi::Function ModuleHandle::Define(Napi::Env env) {
  return DefineClass(env, "NativeModule",
                     {
                         InstanceMethod<&ModuleHandle::ForwardSync>("forwardSync"),
                         InstanceMethod<&ModuleHandle::Forward>("forward"),
                         InstanceMethod<&ModuleHandle::BackwardSync>("backwardSync"),
                         InstanceMethod<&ModuleHandle::Backward>("backward"),
                         InstanceMethod<&ModuleHandle::RightInverse>("rightInverse"),
                         InstanceMethod<&ModuleHandle::GetState>("getState"),
                         InstanceMethod<&ModuleHandle::SetState>("setState"),
                         InstanceMethod<&ModuleHandle::ClearContext>("clearContext"),
                         InstanceMethod<&ModuleHandle::ContextBytes>("contextBytes"),
                         InstanceMethod<&ModuleHandle::GetPolarDiagnostics>("polarDiagnostics"),
                         InstanceMethod<&ModuleHandle::Dispose>("dispose"),
                     });
}

// new NativeModule(kind, weightShape, options)
ModuleHandle::ModuleHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<ModuleHandle>(info), reg_(Registry::of(info.Env())) {
  guard(info.Env(), [&]() -> Napi::Value {
    if (reg_->pendingModule) {
      module_ = std::move(*reg_->pendingModule);
      reg_->pendingModule = nullptr;
    } else {
      const ops::ModuleKind& kind = ops::moduleKind(argString(info, 0, "kind"));
      ops::Options o = readOptions(kind, arg(info, 2));
      Shape ws = kind.weightShape ? argShape(info, 1, "weightShape") : Shape{};
      module_ = kind.make(ws, o);
    }
    return info.Env().Undefined();
  });
  reg_->add(this, static_cast<const Napi::Reference<Napi::Object>&>(*this), [this] { module_.reset(); });
}

ModuleHandle::~ModuleHandle() { reg_->live.erase(this); }

Napi::Value ModuleHandle::CreateChain(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    auto get = [&](std::size_t i, const char* name) -> ops::ModulePtr {
      Napi::Value v = arg(info, i);
      auto reg = Registry::of(info.Env());
      if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(reg->moduleCtor.Value()))
        fail(code::kInvalidArg, ErrorKind::TypeError, name, " must be a native module");
      return Napi::ObjectWrap<ModuleHandle>::Unwrap(v.As<Napi::Object>())->module();
    };
    ops::ModulePtr chain = ops::makeChain(get(0, "first"), get(1, "second"), argBool(info, 2, "requiresGrad"));
    // Handed over through this environment's registry (see
    // Registry::pendingModule), cleared even when the constructor throws.
    auto reg = Registry::of(info.Env());
    reg->pendingModule = &chain;
    Napi::Object obj;
    try {
      obj = reg->moduleCtor.New({});
    } catch (...) {
      reg->pendingModule = nullptr;
      throw;
    }
    reg->pendingModule = nullptr;
    return obj;
  });
}

const ops::ModulePtr& ModuleHandle::module() const {
  if (!module_) fail(code::kDisposed, ErrorKind::Error, "the module has been disposed");
  return module_;
}

Napi::Value ModuleHandle::ForwardSync(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return TensorHandle::Wrap(info.Env(), module()->forward(argTensor(info, 0, "the input")));
  });
}

Napi::Value ModuleHandle::Forward(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    ops::ModulePtr m = module();
    TensorPtr x = argTensor(info, 0, "the input");
    return TensorJob::run(info.Env(), [m, x] { return m->forward(x); });
  });
}

Napi::Value ModuleHandle::BackwardSync(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return TensorHandle::Wrap(info.Env(), module()->backward(argTensor(info, 0, "the gradient")));
  });
}

Napi::Value ModuleHandle::Backward(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    ops::ModulePtr m = module();
    TensorPtr g = argTensor(info, 0, "the gradient");
    return TensorJob::run(info.Env(), [m, g] { return m->backward(g); });
  });
}

Napi::Value ModuleHandle::RightInverse(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return TensorHandle::Wrap(info.Env(), module()->rightInverse(argTensor(info, 0, "the weight")));
  });
}

Napi::Value ModuleHandle::GetState(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    std::string which = argString(info, 0, "name");
    return TensorHandle::Wrap(info.Env(), ops::getPowerIterationState(*module(), which));
  });
}

Napi::Value ModuleHandle::SetState(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    std::string which = argString(info, 0, "name");
    ops::setPowerIterationState(*module(), which, argTensor(info, 1, which == "u" ? "u" : "v"));
    return info.Env().Undefined();
  });
}

Napi::Value ModuleHandle::ClearContext(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (module_) module_->clearContext();
    return info.Env().Undefined();
  });
}

Napi::Value ModuleHandle::ContextBytes(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(), double(module()->contextBytes()));
  });
}

Napi::Value ModuleHandle::GetPolarDiagnostics(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const ops::PolarDiagnostics d = ops::getPolarDiagnostics(*module());
    if (!d.valid) return env.Null();
    Napi::Object o = Napi::Object::New(env);
    o.Set("iterations", d.iterations);
    o.Set("residual", d.residual);
    o.Set("converged", d.converged);
    o.Set("tol", d.tol);
    Napi::Float64Array r = Napi::Float64Array::New(env, d.residuals.size());
    for (std::size_t i = 0; i < d.residuals.size(); ++i) r[i] = d.residuals[i];
    o.Set("residuals", r);
    auto indices = [&](const std::vector<int64_t>& v) {
      Napi::Array a = Napi::Array::New(env, v.size());
      for (std::size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), double(v[i]));
      return a;
    };
    o.Set("stalled", indices(d.stalled));
    o.Set("belowLowerBound", indices(d.belowLowerBound));
    return o;
  });
}

Napi::Value ModuleHandle::Dispose(const Napi::CallbackInfo& info) {
  // In-flight jobs hold their own reference; the module goes when they end.
  module_.reset();
  return info.Env().Undefined();
}

}  // namespace ortho::napi
