#include "allocator.h"

#include <cuda_runtime_api.h>

#include "../core/error.h"
#include "check.h"

namespace ortho::cuda {

std::size_t CachingAllocator::sizeClass(std::size_t bytes) { return eighthSizeClass(bytes, 512); }

std::size_t CachingAllocator::cacheLimit(std::size_t deviceBytes) {
  return cacheLimitFromEnv("ORTHO_CUDA_CACHE_MB", deviceBytes / kDefaultFraction, "a quarter of the device's memory");
}

void* CachingAllocator::allocate(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  const std::size_t size = sizeClass(bytes);
  {
    std::lock_guard<std::mutex> g(mutex_);
    if (void* p = free_.take(size)) {
      live_[p] = size;
      liveBytes_ += size;
      return p;
    }
  }
  ORTHO_CUDA_CHECK(cudaSetDevice(device_));
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, size);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    emptyCache();
    e = cudaMalloc(&p, size);
  }
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    std::size_t freeB = 0, totalB = 0;
    cudaMemGetInfo(&freeB, &totalB);
    cudaGetLastError();
    fail(code::kOutOfMemory, ErrorKind::Error, "CUDA device cuda:", device_, " is out of memory allocating ", bytes,
         " bytes (", freeB, " of ", totalB, " bytes free after emptying this process's cache; ", liveBytes(),
         " bytes held by live tensors and scratch)");
  }
  ORTHO_CUDA_CHECK(e);
  std::lock_guard<std::mutex> g(mutex_);
  live_[p] = size;
  liveBytes_ += size;
  return p;
}

void CachingAllocator::deallocate(void* p) noexcept {
  if (!p) return;
  {
    std::lock_guard<std::mutex> g(mutex_);
    auto it = live_.find(p);
    if (it == live_.end()) return;  // not ours: never hand it out again
    const std::size_t size = it->second;
    if (free_.bytes() + size <= maxCached_) {
      try {
        free_.put(p, size);  // first: if it throws, the block is freed below
        live_.erase(it);
        liveBytes_ -= size;
        return;
      } catch (...) {
        // Bookkeeping failed (out of host memory): free the block instead.
      }
    }
    live_.erase(it);
    liveBytes_ -= size;
  }
  // Outside the lock: cudaFree waits for the device, and other threads
  // allocate and free meanwhile.
  release(p);
}

void CachingAllocator::release(void* p) noexcept {
  int current = -1;
  const bool known = cudaGetDevice(&current) == cudaSuccess;
  if (!known || current != device_) cudaSetDevice(device_);
  cudaFree(p);  // synchronizes: queued work using p is done first
  if (known && current != device_) cudaSetDevice(current);
  cudaGetLastError();
}

void CachingAllocator::emptyCache() noexcept {
  FreeLists blocks;
  {
    std::lock_guard<std::mutex> g(mutex_);
    blocks = free_.takeAll();
  }
  if (blocks.empty()) return;
  blocks.releaseAll([this](void* p) { release(p); });
}

std::size_t CachingAllocator::liveBytes() {
  std::lock_guard<std::mutex> g(mutex_);
  return liveBytes_;
}

std::size_t CachingAllocator::cachedBytes() {
  std::lock_guard<std::mutex> g(mutex_);
  return free_.bytes();
}

}  // namespace ortho::cuda
