// The CPU backend's host memory: aligned blocks, freed ones of 64 KiB to
// 32 MiB kept in per-size free lists and handed out again.
#pragma once

#include <cstddef>
#include <mutex>

#include "../core/free_lists.h"

namespace ortho {

/// A caching allocator for large blocks. Why: glibc serves multi-MB requests
/// with mmap and returns them with munmap, so every op call paid for fresh
/// pages (a page fault per 4 KiB touched) on each of its temporaries; ops
/// allocate the same sizes call after call, so freed large blocks are kept in
/// per-size free lists and handed out again. Small blocks go to malloc, which
/// already recycles them. Thread-safe.
class BlockCache {
 public:
  /// The default cap on cached blocks, in MiB.
  static constexpr std::size_t kDefaultCacheMb = 256;
  /// The cap ORTHO_CPU_CACHE_MB sets, in bytes (kDefaultCacheMb when unset);
  /// throws ERR_ORTHO_INVALID_ARG for a value that is not whole MiB.
  static std::size_t cacheLimit();

  /// A 64-byte aligned block of at least `bytes`; throws
  /// ERR_ORTHO_OUT_OF_MEMORY.
  void* allocate(std::size_t bytes);
  /// Returns a block from allocate(bytes) (the same `bytes`).
  void deallocate(void* p, std::size_t bytes) noexcept;
  /// Frees every cached block.
  void trim() noexcept;

 private:
  // Blocks from 64 KiB to 32 MiB are cached, at most ORTHO_CPU_CACHE_MB
  // (default 256 MiB) in all. Larger blocks, and blocks beyond the cap, go
  // back to the system at once: dispose() of a big tensor must return its
  // memory now, and an idle process must not sit on a large cache.
  static constexpr std::size_t kMinCached = std::size_t(64) << 10;
  static constexpr std::size_t kMaxBlock = std::size_t(32) << 20;
  static std::size_t sizeClass(std::size_t bytes);

  const std::size_t maxCached_ = cacheLimit();
  std::mutex m_;
  FreeLists free_;
};

}  // namespace ortho
