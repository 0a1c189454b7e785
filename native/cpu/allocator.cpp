#include "allocator.h"

#include <cstdlib>

#include "../core/error.h"

namespace ortho {

void* BlockCache::allocate(std::size_t bytes) {
  const std::size_t cls = sizeClass(bytes);
  if (cls >= kMinCached) {
    std::lock_guard<std::mutex> g(m_);
    if (void* p = free_.take(cls)) return p;
  }
  // 64-byte alignment keeps Eigen's vector loads aligned for every row of
  // a dense matrix whose row length is a multiple of 16 floats.
  void* p = std::aligned_alloc(64, cls);
  if (!p) {
    trim();  // give the cache back and try once more
    p = std::aligned_alloc(64, cls);
  }
  if (!p) fail(code::kOutOfMemory, ErrorKind::Error, "out of host memory allocating ", bytes, " bytes");
  return p;
}

void BlockCache::deallocate(void* p, std::size_t bytes) noexcept {
  const std::size_t cls = sizeClass(bytes);
  if (cls >= kMinCached && cls <= kMaxBlock) {
    std::lock_guard<std::mutex> g(m_);
    if (free_.bytes() + cls <= maxCached_) {
      try {
        free_.put(p, cls);
        return;
      } catch (...) {  // bookkeeping allocation failed: just free
      }
    }
  }
  std::free(p);
}

void BlockCache::trim() noexcept {
  std::lock_guard<std::mutex> g(m_);
  free_.releaseAll([](void* p) { std::free(p); });
}

std::size_t BlockCache::readMaxCached() {
  if (const char* env = std::getenv("ORTHO_CPU_CACHE_MB")) {
    char* end = nullptr;
    unsigned long long mb = std::strtoull(env, &end, 10);
    if (end != env && *end == '\0' && mb <= (1ull << 20)) return static_cast<std::size_t>(mb) << 20;
  }
  return std::size_t(256) << 20;
}

// 64-byte multiples below kMinCached; above, eighths of a power of two
// (at most 12.5% slack), so that nearby sizes share a list.
std::size_t BlockCache::sizeClass(std::size_t bytes) {
  if (bytes < kMinCached) return bytes == 0 ? 64 : (bytes + 63) & ~std::size_t(63);
  return eighthSizeClass(bytes, kMinCached);
}

}  // namespace ortho
