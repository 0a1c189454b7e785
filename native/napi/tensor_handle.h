// TensorHandle: the JS object that owns a reference to a native tensor.
// Lifetime is three-way: dispose() releases it now, the GC finalizer
// releases it otherwise, and the env cleanup hook releases whatever is left
// when the environment (main thread or a worker) shuts down.
#pragma once

#include <napi.h>

#include <memory>

#include "../core/tensor.h"
#include "registry.h"

namespace ortho::napi {

class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  /// A new JS handle owning a reference to t.
  static Napi::Object Wrap(Napi::Env env, TensorPtr t);
  /// The handle behind a JS value, or null when it is not one.
  static TensorHandle* Unwrap(Napi::Value v);

  explicit TensorHandle(const Napi::CallbackInfo& info);
  ~TensorHandle() override;

  /// The tensor; throws ERR_ORTHO_DISPOSED after dispose().
  const TensorPtr& tensor(const char* what) const;
  /// Drops the reference (idempotent).
  void release();

 private:
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value DeviceName(const Napi::CallbackInfo& info);
  Napi::Value ByteLength(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value ToTypedArray(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value Reshape(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  TensorPtr tensor_;
  int64_t reported_ = 0;  // bytes reported to the GC through AdjustExternalMemory
  Napi::Env env_;
  std::shared_ptr<Registry> reg_;  // outlives the env's instance data
};

}  // namespace ortho::napi
