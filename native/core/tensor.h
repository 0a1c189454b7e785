// Native tensors: a dense, contiguous, row-major block of float32/float64
// values on one device. Contents are written only while an operation builds
// them; afterwards a TensorImpl is treated as immutable, which is what lets
// saved contexts and in-flight jobs hold references instead of copies.
#pragma once

#include <cstddef>
#include <memory>

#include "backend.h"
#include "shape.h"

namespace ortho {

/// Device memory owned by one allocation, returned to the backend on
/// destruction.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend& backend, std::size_t bytes) : backend_(&backend), bytes_(bytes) {
    if (bytes) ptr_ = backend.allocate(bytes);
  }
  ~Buffer() { release(); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept : backend_(o.backend_), ptr_(o.ptr_), bytes_(o.bytes_) {
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      release();
      backend_ = o.backend_;
      ptr_ = o.ptr_;
      bytes_ = o.bytes_;
      o.ptr_ = nullptr;
      o.bytes_ = 0;
    }
    return *this;
  }

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  std::size_t bytes() const { return bytes_; }

 private:
  void release() noexcept {
    if (ptr_) backend_->deallocate(ptr_, bytes_);
    ptr_ = nullptr;
  }
  Backend* backend_ = nullptr;
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

class TensorImpl;
using TensorPtr = std::shared_ptr<TensorImpl>;

class TensorImpl {
 public:
  TensorImpl(Shape shape, DType dtype, Backend& backend);

  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  Device device() const { return backend_->device(); }
  Backend& backend() const { return *backend_; }
  int64_t numel() const { return numel_; }
  std::size_t bytes() const { return buffer_->bytes(); }
  void* raw() const { return buffer_->get(); }
  template <typename T>
  T* data() const {
    return buffer_->as<T>();
  }
  /// The same values under another shape of equal element count (shares
  /// the memory; fine because tensors are immutable once built).
  TensorPtr reshape(const Shape& shape) const;
  /// The tensor as a batch of matrices (rank >= 2).
  template <typename T>
  Mat<T> mat() const {
    MatrixDims d = MatrixDims::of(shape_);
    return Mat<T>::dense(data<T>(), d.m, d.n);
  }
  MatrixDims dims() const { return MatrixDims::of(shape_); }

  /// Uninitialized tensor.
  static TensorPtr empty(const Shape& shape, DType dtype, const Device& device);
  /// Copy of host values (count must equal numel; `hostDtype` of the source).
  static TensorPtr fromHost(const Shape& shape, DType dtype, const Device& device, const void* src,
                            DType hostDtype);
  /// Deep copy, optionally to another device and/or dtype.
  TensorPtr copyTo(const Device& device, DType dtype) const;
  TensorPtr clone() const { return copyTo(device(), dtype_); }
  /// Writes the values to host memory as dtype() (bytes() bytes).
  void toHost(void* dst) const;
  /// Copies another tensor's values into this one (same shape; dtype and
  /// device may differ).
  void assign(const TensorImpl& src);

 private:
  Shape shape_;
  DType dtype_;
  int64_t numel_;
  Backend* backend_;
  std::shared_ptr<Buffer> buffer_;
};

}  // namespace ortho
