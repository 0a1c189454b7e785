// A caching device allocator: freed blocks go to per-size-class free lists
// and are handed out again without cudaMalloc/cudaFree (both synchronize
// the device and cost tens of microseconds). The cache holds at most
// ORTHO_CUDA_CACHE_MB MiB per device (default: a quarter of the device's
// memory); a freed block that would take it past that is returned with
// cudaFree.
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
  /// The default cap of a device's cache: this fraction of its memory. Why
  /// a quarter: a loop of calls reuses the same sizes, and the cache must
  /// hold what one call frees for the next call to find it; below that,
  /// every call pays a cudaMalloc and a cudaFree (which waits for the
  /// device) per block that does not fit. One forward and backward holds
  /// 6 to 58 times its weight's size, depending on the preset
  /// (bench/cuda-footprint.mjs; docs/memory.md), so a fixed cap that suits
  /// small weights makes loops on large ones (a 4096 x 11008 float32 layer
  /// is 172 MiB) pay on every call. A quarter of the device scales with it
  /// (20 GB on an 80 GB GPU, 2 GB on an 8 GB one) and still leaves three
  /// quarters to other processes while this one sits on memory it no
  /// longer uses after its largest call (before the cap it kept all of
  /// it); within this process, a failing cudaMalloc empties the cache
  /// first anyway.
  static constexpr std::size_t kDefaultFraction = 4;

  /// `maxCached`: the most bytes freed blocks may hold (cacheLimit()).
  CachingAllocator(int device, std::size_t maxCached) : device_(device), maxCached_(maxCached) {}
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;
  /// The cap ORTHO_CUDA_CACHE_MB sets, in bytes (when unset, a quarter of
  /// `deviceBytes`, the device's memory); throws ERR_ORTHO_INVALID_ARG for
  /// a value that is not whole MiB.
  static std::size_t cacheLimit(std::size_t deviceBytes);

  /// A block of at least `bytes` bytes (256-byte aligned). On cudaMalloc
  /// failure the cache is emptied and the call retried once; then throws
  /// ERR_ORTHO_OUT_OF_MEMORY. bytes == 0 gives null.
  void* allocate(std::size_t bytes);
  /// Returns a block to the cache (any thread). A block the cache has no
  /// room for under its cap is freed with cudaFree, which first waits for
  /// the work queued on the device (that may still use the block).
  void deallocate(void* p) noexcept;
  /// Frees every cached block (cudaFree synchronizes the device).
  void emptyCache() noexcept;
  /// Bytes in live blocks and in the cache.
  std::size_t liveBytes();
  std::size_t cachedBytes();
  /// The cap on cachedBytes().
  std::size_t maxCachedBytes() const { return maxCached_; }

  /// The size class of a request: the next value of the form
  /// (8 + k) * 2^e (k < 8) at or above it, at least 512 bytes, so a block
  /// wastes at most 1/8 of its size.
  static std::size_t sizeClass(std::size_t bytes);

 private:
  // cudaFree of one block, with this device current (the caller's device
  // restored after).
  void release(void* p) noexcept;

  int device_;
  const std::size_t maxCached_;
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
