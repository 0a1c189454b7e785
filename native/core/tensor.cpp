#include "tensor.h"

#include <cstring>
#include <vector>

namespace ortho {

TensorImpl::TensorImpl(Shape shape, DType dtype, Backend& backend)
    : shape_(std::move(shape)),
      dtype_(dtype),
      numel_(ortho::numel(shape_)),
      backend_(&backend),
      buffer_(std::make_shared<Buffer>(backend, static_cast<std::size_t>(numel_) * dtypeSize(dtype))) {}

TensorPtr TensorImpl::reshape(const Shape& shape) const {
  if (ortho::numel(shape) != numel_)
    fail(code::kShape, ErrorKind::RangeError, "cannot reshape ", shapeStr(shape_), " (", numel_, " elements) to ",
         shapeStr(shape), " (", ortho::numel(shape), " elements)");
  auto t = std::make_shared<TensorImpl>(*this);
  t->shape_ = shape;
  return t;
}

TensorPtr TensorImpl::empty(const Shape& shape, DType dtype, const Device& device) {
  return std::make_shared<TensorImpl>(shape, dtype, backendFor(device));
}

namespace {
// Converts n host values between dtypes.
void convertHost(const void* src, DType from, void* dst, DType to, int64_t n) {
  if (from == to) {
    std::memcpy(dst, src, static_cast<std::size_t>(n) * dtypeSize(from));
  } else if (from == DType::Float64) {
    const double* s = static_cast<const double*>(src);
    float* d = static_cast<float*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = static_cast<float>(s[i]);
  } else {
    const float* s = static_cast<const float*>(src);
    double* d = static_cast<double*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = static_cast<double>(s[i]);
  }
}
}  // namespace

TensorPtr TensorImpl::fromHost(const Shape& shape, DType dtype, const Device& device, const void* src,
                               DType hostDtype) {
  TensorPtr t = empty(shape, dtype, device);
  if (device.isCpu()) {
    convertHost(src, hostDtype, t->raw(), dtype, t->numel());
  } else if (hostDtype == dtype) {
    t->backend().copyFromHost(t->raw(), src, t->bytes());
  } else {
    std::vector<unsigned char> tmp(t->bytes());
    convertHost(src, hostDtype, tmp.data(), dtype, t->numel());
    t->backend().copyFromHost(t->raw(), tmp.data(), t->bytes());
  }
  return t;
}

void TensorImpl::toHost(void* dst) const {
  if (device().isCpu())
    std::memcpy(dst, raw(), bytes());
  else
    backend_->copyToHost(dst, raw(), bytes());
}

void TensorImpl::assign(const TensorImpl& src) {
  if (src.shape() != shape_)
    fail(code::kShape, ErrorKind::RangeError, "cannot assign a tensor of shape ", shapeStr(src.shape()),
         " to one of shape ", shapeStr(shape_));
  if (src.device() == device() && src.dtype() == dtype_) {
    if (device().isCpu())
      std::memcpy(raw(), src.raw(), bytes());
    else
      backend_->copyOnDevice(raw(), src.raw(), bytes());
    return;
  }
  // Through the host: cross-device and/or cross-dtype.
  std::vector<unsigned char> host(src.bytes());
  src.toHost(host.data());
  if (device().isCpu()) {
    convertHost(host.data(), src.dtype(), raw(), dtype_, numel_);
  } else {
    std::vector<unsigned char> conv(bytes());
    convertHost(host.data(), src.dtype(), conv.data(), dtype_, numel_);
    backend_->copyFromHost(raw(), conv.data(), bytes());
  }
}

TensorPtr TensorImpl::copyTo(const Device& device, DType dtype) const {
  TensorPtr t = empty(shape_, dtype, device);
  t->assign(*this);
  return t;
}

}  // namespace ortho
