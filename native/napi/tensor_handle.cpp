#include "tensor_handle.h"

#include <cstring>

#include "args.h"
#include "errors.h"
#include "registry.h"

namespace ortho::napi {

Napi::Function TensorHandle::Define(Napi::Env env) {
  return DefineClass(env, "NativeTensor",
                     {
                         InstanceAccessor<&TensorHandle::Shape>("shape"),
                         InstanceAccessor<&TensorHandle::Dtype>("dtype"),
                         InstanceAccessor<&TensorHandle::DeviceName>("device"),
                         InstanceAccessor<&TensorHandle::ByteLength>("byteLength"),
                         InstanceAccessor<&TensorHandle::Disposed>("disposed"),
                         InstanceMethod<&TensorHandle::ToTypedArray>("toTypedArray"),
                         InstanceMethod<&TensorHandle::To>("to"),
                         InstanceMethod<&TensorHandle::Reshape>("reshape"),
                         InstanceMethod<&TensorHandle::Dispose>("dispose"),
                     });
}

Napi::Object TensorHandle::Wrap(Napi::Env env, TensorPtr t) {
  // The tensor goes to the constructor through this environment's registry
  // (see Registry::pendingTensor), so JS cannot build empty handles and
  // workers constructing at once cannot exchange their tensors.
  auto reg = Registry::of(env);
  TensorPtr* prev = reg->pendingTensor;
  reg->pendingTensor = &t;
  Napi::Object obj;
  try {
    obj = reg->tensorCtor.New({});
  } catch (...) {
    reg->pendingTensor = prev;
    throw;
  }
  reg->pendingTensor = prev;
  return obj;
}

TensorHandle* TensorHandle::Unwrap(Napi::Value v) {
  if (!v.IsObject()) return nullptr;
  Napi::Object o = v.As<Napi::Object>();
  auto reg = Registry::of(v.Env());
  if (!o.InstanceOf(reg->tensorCtor.Value())) return nullptr;
  return Napi::ObjectWrap<TensorHandle>::Unwrap(o);
}

TensorHandle::TensorHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<TensorHandle>(info), env_(info.Env()), reg_(Registry::of(info.Env())) {
  if (!reg_->pendingTensor)
    throw makeError(info.Env(), code::kInvalidArg, ErrorKind::TypeError,
                    "NativeTensor cannot be constructed directly; use the Tensor factories");
  tensor_ = std::move(*reg_->pendingTensor);
  reg_->pendingTensor = nullptr;
  reported_ = static_cast<int64_t>(tensor_->bytes());
  Napi::MemoryManagement::AdjustExternalMemory(env_, reported_);
  reg_->add(this, static_cast<const Napi::Reference<Napi::Object>&>(*this), [this] { release(); });
}

TensorHandle::~TensorHandle() {
  reg_->live.erase(this);
  release();
}

void TensorHandle::release() {
  if (!tensor_) return;
  // Why a reference drop and not a free: an async job or a module's saved
  // context may still hold the tensor; the memory goes when the last does.
  tensor_.reset();
  if (reported_ && !reg_->closed) {
    // The raw call: this runs in finalizers, where nothing may throw.
    int64_t ignored;
    napi_adjust_external_memory(env_, -reported_, &ignored);
  }
  reported_ = 0;
}

const TensorPtr& TensorHandle::tensor(const char* what) const {
  if (!tensor_) fail(code::kDisposed, ErrorKind::Error, what, " has been disposed");
  return tensor_;
}

Napi::Value TensorHandle::Shape(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const auto& s = tensor("the tensor")->shape();
    Napi::Array a = Napi::Array::New(info.Env(), s.size());
    for (std::size_t i = 0; i < s.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), double(s[i])));
    return a;
  });
}

Napi::Value TensorHandle::Dtype(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return Napi::String::New(info.Env(), dtypeName(tensor("the tensor")->dtype()));
  });
}

Napi::Value TensorHandle::DeviceName(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return Napi::String::New(info.Env(), tensor("the tensor")->device().str());
  });
}

Napi::Value TensorHandle::ByteLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), tensor_ ? double(tensor_->bytes()) : 0.0);
}

Napi::Value TensorHandle::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !tensor_);
}

Napi::Value TensorHandle::ToTypedArray(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const TensorPtr& t = tensor("the tensor");
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(info.Env(), t->bytes());
    {
      auto lock = t->backend().lockForOperation();
      t->toHost(buf.Data());
    }
    if (t->dtype() == DType::Float32)
      return Napi::Float32Array::New(info.Env(), static_cast<std::size_t>(t->numel()), buf, 0);
    return Napi::Float64Array::New(info.Env(), static_cast<std::size_t>(t->numel()), buf, 0);
  });
}

Napi::Value TensorHandle::To(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const TensorPtr& t = tensor("the tensor");
    Device dev = argDevice(info, 0);
    DType dt = arg(info, 1).IsUndefined() ? t->dtype() : argDtype(info, 1);
    Backend& target = backendFor(dev);  // throws ERR_ORTHO_DEVICE with the reason
    TensorPtr r;
    {
      auto l1 = t->backend().lockForOperation();
      std::unique_lock<std::mutex> l2;
      if (&target != &t->backend()) l2 = target.lockForOperation();
      r = t->copyTo(dev, dt);
    }
    return Wrap(info.Env(), std::move(r));
  });
}

Napi::Value TensorHandle::Reshape(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const TensorPtr& t = tensor("the tensor");
    ortho::Shape s = argShape(info, 0, "shape");
    return Wrap(info.Env(), t->reshape(s));
  });
}

Napi::Value TensorHandle::Dispose(const Napi::CallbackInfo& info) {
  release();
  return info.Env().Undefined();
}

}  // namespace ortho::napi
