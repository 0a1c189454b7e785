// Per-size free lists of cached memory blocks: the bookkeeping shared by the
// CPU backend's block cache (cpu/allocator.cpp) and the CUDA caching allocator
// (cuda/allocator.cpp). Not thread-safe: each owner holds its own mutex, and
// decides itself which sizes to cache and how blocks are obtained and freed.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "error.h"

namespace ortho {

/// The size class of a request: `minClass` (a power of two, at least 16)
/// up to there, above it the next value of the form (8 + k) * 2^e (k < 8)
/// at or above `bytes`, so that a block wastes at most 1/8 of its size and
/// nearby sizes share a list.
inline std::size_t eighthSizeClass(std::size_t bytes, std::size_t minClass) {
  if (bytes <= minClass) return minClass;
  std::size_t e = 0;
  while ((std::size_t(16) << e) <= bytes) ++e;  // 8 * 2^e <= bytes < 16 * 2^e
  const std::size_t unit = std::size_t(1) << e;
  return (bytes + unit - 1) / unit * unit;
}

/// The most a cache may hold, in bytes, as the environment variable `name`
/// sets it (ORTHO_CPU_CACHE_MB, ORTHO_CUDA_CACHE_MB): whole MiB, decimal
/// digits only, from 0 (cache nothing) to 1048576 (1 TiB); `fallback` bytes
/// when unset or empty (`fallbackText` says what that is, for the message).
/// Anything else throws ERR_ORTHO_INVALID_ARG naming the variable, what it
/// holds and what it takes: a typo must not silently leave a memory bound
/// at its default.
inline std::size_t cacheLimitFromEnv(const char* name, std::size_t fallback, const char* fallbackText) {
  constexpr unsigned long long kMaxMb = 1ull << 20;
  const char* env = std::getenv(name);
  if (!env || !*env) return fallback;
  bool digits = true;
  for (const char* c = env; *c; ++c) digits = digits && *c >= '0' && *c <= '9';
  unsigned long long mb = kMaxMb + 1;
  if (digits && std::string(env).size() <= 8) mb = std::strtoull(env, nullptr, 10);
  if (mb > kMaxMb)
    fail(code::kInvalidArg, ErrorKind::Error, name, "='", env, "' is not a cache size: give whole MiB from 0 to ",
         kMaxMb, " (0 caches nothing), or leave it unset for the default (", fallbackText, ")");
  return static_cast<std::size_t>(mb) << 20;
}

class FreeLists {
 public:
  /// A cached block of size class `cls`, removed from the cache; null if none.
  void* take(std::size_t cls) {
    auto it = lists_.find(cls);
    if (it == lists_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    bytes_ -= cls;
    return p;
  }
  /// Caches block p of class `cls`. Throws (std::bad_alloc) only when the
  /// list cannot grow; the cache is then unchanged.
  void put(void* p, std::size_t cls) {
    lists_[cls].push_back(p);
    bytes_ += cls;
  }
  /// Empties the cache into the returned lists (to be freed outside a lock).
  FreeLists takeAll() {
    FreeLists all;
    std::swap(all.lists_, lists_);
    std::swap(all.bytes_, bytes_);
    return all;
  }
  /// Calls release(p), or release(p, cls) where it takes the class too, for
  /// every cached block and empties the cache.
  template <typename Release>
  void releaseAll(Release&& release) {
    for (auto& [cls, list] : lists_)
      for (void* p : list) {
        if constexpr (std::is_invocable_v<Release&, void*, std::size_t>)
          release(p, cls);
        else
          release(p);
      }
    lists_.clear();
    bytes_ = 0;
  }
  bool empty() const { return bytes_ == 0; }
  /// Bytes in cached blocks (the sum of their classes).
  std::size_t bytes() const { return bytes_; }

 private:
  std::map<std::size_t, std::vector<void*>> lists_;
  std::size_t bytes_ = 0;
};

}  // namespace ortho
