// ModuleHandle: the JS object owning a native reparametrizer module.
#pragma once

#include <napi.h>

#include <memory>

#include "../ops/module.h"
#include "registry.h"

namespace ortho::napi {

class ModuleHandle : public Napi::ObjectWrap<ModuleHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ModuleHandle(const Napi::CallbackInfo& info);
  ~ModuleHandle() override;

  /// createChain(first, second, requiresGrad): a composed module.
  static Napi::Value CreateChain(const Napi::CallbackInfo& info);

 private:
  const ops::ModulePtr& module() const;
  Napi::Value ForwardSync(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value BackwardSync(const Napi::CallbackInfo& info);
  Napi::Value Backward(const Napi::CallbackInfo& info);
  Napi::Value RightInverse(const Napi::CallbackInfo& info);
  Napi::Value GetState(const Napi::CallbackInfo& info);
  Napi::Value SetState(const Napi::CallbackInfo& info);
  Napi::Value ClearContext(const Napi::CallbackInfo& info);
  Napi::Value ContextBytes(const Napi::CallbackInfo& info);
  /// Polar module only: what its latest forward found (null before one).
  Napi::Value GetPolarDiagnostics(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  ops::ModulePtr module_;
  std::shared_ptr<Registry> reg_;
};

}  // namespace ortho::napi
