#include "allocator.h"

#include <cuda_runtime_api.h>

#include "../core/error.h"
#include "check.h"

namespace ortho::cuda {

std::size_t CachingAllocator::sizeClass(std::size_t bytes) {
  if (bytes <= 512) return 512;
  std::size_t e = 0;
  while ((std::size_t(16) << e) <= bytes) ++e;  // 8 * 2^e <= bytes < 16 * 2^e
  const std::size_t unit = std::size_t(1) << e;
  return (bytes + unit - 1) / unit * unit;  // (8 + k) * 2^e, k in 0..8
}

void* CachingAllocator::allocate(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  const std::size_t size = sizeClass(bytes);
  {
    std::lock_guard<std::mutex> g(mutex_);
    auto it = free_.find(size);
    if (it != free_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cachedBytes_ -= size;
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
  try {
    std::lock_guard<std::mutex> g(mutex_);
    auto it = live_.find(p);
    if (it == live_.end()) return;  // not ours: never hand it out again
    const std::size_t size = it->second;
    live_.erase(it);
    liveBytes_ -= size;
    free_[size].push_back(p);
    cachedBytes_ += size;
  } catch (...) {
    // Bookkeeping failed (out of host memory): the block is leaked, which
    // is safe; freeing it here could race with queued work.
  }
}

void CachingAllocator::emptyCache() noexcept {
  std::map<std::size_t, std::vector<void*>> blocks;
  {
    std::lock_guard<std::mutex> g(mutex_);
    blocks.swap(free_);
    cachedBytes_ = 0;
  }
  if (blocks.empty()) return;
  cudaSetDevice(device_);
  for (auto& [size, list] : blocks)
    for (void* p : list) cudaFree(p);  // synchronizes: queued work using p is done first
  cudaGetLastError();
}

std::size_t CachingAllocator::liveBytes() {
  std::lock_guard<std::mutex> g(mutex_);
  return liveBytes_;
}

std::size_t CachingAllocator::cachedBytes() {
  std::lock_guard<std::mutex> g(mutex_);
  return cachedBytes_;
}

}  // namespace ortho::cuda
