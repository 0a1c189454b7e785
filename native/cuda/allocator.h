// A caching device allocator: freed blocks go to per-size-class free lists
// and are handed out again without cudaMalloc/cudaFree (both synchronize
// the device and cost tens of microseconds).
//
// Why reuse is safe without events: every use of device memory (kernels,
// cuBLAS, cuSOLVER, copies) is enqueued on the device's single stream, so
// work enqueued by the next owner of a block runs after the work of the
// previous owner.
#pragma once

#include <cstddef>
#include <mutex>
#include <unordered_map>

#include "../core/free_lists.h"

namespace ortho::cuda {

class CachingAllocator {
 public:
  explicit CachingAllocator(int device) : device_(device) {}
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  /// A block of at least `bytes` bytes (256-byte aligned). On cudaMalloc
  /// failure the cache is emptied and the call retried once; then throws
  /// ERR_ORTHO_OUT_OF_MEMORY. bytes == 0 gives null.
  void* allocate(std::size_t bytes);
  /// Returns a block to the cache (any thread; never touches the device).
  void deallocate(void* p) noexcept;
  /// Frees every cached block (cudaFree synchronizes the device).
  void emptyCache() noexcept;
  /// Bytes in live blocks and in the cache.
  std::size_t liveBytes();
  std::size_t cachedBytes();

  /// The size class of a request: the next value of the form
  /// (8 + k) * 2^e (k < 8) at or above it, at least 512 bytes, so a block
  /// wastes at most 1/8 of its size.
  static std::size_t sizeClass(std::size_t bytes);

 private:
  int device_;
  // Why a separate mutex from the device's operation lock: tensors are
  // freed from finalizers and worker threads while an operation runs.
  std::mutex mutex_;
  std::unordered_map<void*, std::size_t> live_;          // block -> size class
  FreeLists free_;                                       // size class -> blocks
  std::size_t liveBytes_ = 0;
};

/// Scratch memory for one primitive: allocated from the device's cache,
/// returned on destruction (RAII).
class PoolBuffer {
 public:
  PoolBuffer(CachingAllocator& a, std::size_t bytes) : alloc_(&a), ptr_(a.allocate(bytes)) {}
  ~PoolBuffer() {
    if (ptr_) alloc_->deallocate(ptr_);
  }
  PoolBuffer(const PoolBuffer&) = delete;
  PoolBuffer& operator=(const PoolBuffer&) = delete;

  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  CachingAllocator* alloc_;
  void* ptr_;
};

}  // namespace ortho::cuda
