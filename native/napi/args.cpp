#include "args.h"

#include <cmath>

#include "tensor_handle.h"

namespace ortho::napi {

Napi::Value arg(const Napi::CallbackInfo& info, std::size_t i) {
  return i < info.Length() ? info[i] : info.Env().Undefined();
}

Shape argShape(const Napi::CallbackInfo& info, std::size_t i, const char* name) {
  Napi::Value v = arg(info, i);
  if (!v.IsArray()) fail(code::kInvalidArg, ErrorKind::TypeError, name, " must be an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > 32) fail(code::kShape, ErrorKind::RangeError, name, " has rank ", a.Length(), "; at most 32 is supported");
  Shape s;
  for (uint32_t k = 0; k < a.Length(); ++k) {
    Napi::Value e = a.Get(k);
    double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : NAN;
    if (!std::isfinite(d) || d != std::floor(d))
      fail(code::kShape, ErrorKind::TypeError, name, "[", k, "] must be an integer, got ",
           e.IsNumber() ? std::to_string(d) : std::string(e.ToString().Utf8Value()));
    if (d <= 0 || d > double(kMaxElements))
      fail(code::kShape, ErrorKind::RangeError, name, "[", k, "] must be a positive integer, got ", d);
    s.push_back(static_cast<int64_t>(d));
  }
  checkShape(s, name);
  return s;
}

std::string argString(const Napi::CallbackInfo& info, std::size_t i, const char* name) {
  Napi::Value v = arg(info, i);
  if (!v.IsString()) fail(code::kInvalidArg, ErrorKind::TypeError, name, " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

DType argDtype(const Napi::CallbackInfo& info, std::size_t i) {
  Napi::Value v = arg(info, i);
  if (!v.IsString()) fail(code::kDtype, ErrorKind::TypeError, "dtype must be 'float32' or 'float64'");
  return parseDtype(v.As<Napi::String>().Utf8Value());
}

Device argDevice(const Napi::CallbackInfo& info, std::size_t i) {
  Napi::Value v = arg(info, i);
  if (!v.IsString()) fail(code::kDevice, ErrorKind::TypeError, "device must be 'cpu', 'cuda' or 'cuda:N'");
  return Device::parse(v.As<Napi::String>().Utf8Value());
}

bool argBool(const Napi::CallbackInfo& info, std::size_t i, const char* name) {
  Napi::Value v = arg(info, i);
  if (!v.IsBoolean()) fail(code::kInvalidArg, ErrorKind::TypeError, name, " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

TensorPtr argTensor(const Napi::CallbackInfo& info, std::size_t i, const char* name) {
  TensorHandle* h = TensorHandle::Unwrap(arg(info, i));
  if (!h) fail(code::kInvalidArg, ErrorKind::TypeError, name, " must be a Tensor");
  return h->tensor(name);
}

}  // namespace ortho::napi
