#include "allocator.h"

#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <sys/mman.h>
#include <unistd.h>
#endif

#include <cstdint>
#include <cstdlib>

#include "../core/error.h"

namespace ortho {

namespace {

constexpr std::size_t kAlign = 64;

// Small blocks: malloc'ed with kAlign bytes to spare, aligned by hand, the
// pointer malloc gave stored in the 8 bytes before the block. Why not
// std::aligned_alloc: glibc before 2.38 serves it with _int_memalign, which
// splits a larger chunk and seldom reuses freed aligned chunks for the next
// aligned request (glibc bug 14581), so a loop that allocates and frees the
// same small tensor grows the heap call after call; plain malloc reuses the
// chunk at once.
void* smallAllocate(std::size_t bytes) noexcept {
  void* raw = std::malloc(bytes + kAlign);
  if (!raw) return nullptr;
  auto addr = (reinterpret_cast<std::uintptr_t>(raw) + kAlign) & ~std::uintptr_t(kAlign - 1);
  reinterpret_cast<void**>(addr)[-1] = raw;
  return reinterpret_cast<void*>(addr);
}

void smallFree(void* p) noexcept { std::free(static_cast<void**>(p)[-1]); }

std::size_t pageRound(std::size_t bytes) {
  static const std::size_t page = [] {
#ifdef _WIN32
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    long s = static_cast<long>(si.dwAllocationGranularity);
#else
    long s = sysconf(_SC_PAGESIZE);
#endif
    return s > 0 ? static_cast<std::size_t>(s) : std::size_t(4096);
  }();
  return (bytes + page - 1) / page * page;
}

// Large blocks: their own pages from mmap, returned with munmap. Why not
// malloc: glibc raises its mmap threshold (up to 32 MiB) each time it frees
// an mmap'ed chunk, after which blocks of that size come from the heap of
// the calling thread's arena, where freed ones stay resident and fragment
// it; every async call runs on one of libuv's threads, each with its own
// arena. Pages of our own go back to the system the moment they are freed,
// and the cache above keeps the reuse that saves the page faults.
// (Windows: VirtualAlloc and VirtualFree, the same contract.)
#ifdef _WIN32
void* largeAllocate(std::size_t bytes) noexcept {
  return VirtualAlloc(nullptr, pageRound(bytes), MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
}

void largeFree(void* p, std::size_t) noexcept { VirtualFree(p, 0, MEM_RELEASE); }
#else
void* largeAllocate(std::size_t bytes) noexcept {
  void* p = mmap(nullptr, pageRound(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void largeFree(void* p, std::size_t bytes) noexcept { munmap(p, pageRound(bytes)); }
#endif

}  // namespace

void* BlockCache::allocate(std::size_t bytes) {
  const std::size_t cls = sizeClass(bytes);
  const bool large = cls >= kMinCached;
  if (large) {
    std::lock_guard<std::mutex> g(m_);
    if (void* p = free_.take(cls)) return p;
  }
  // 64-byte alignment keeps Eigen's vector loads aligned for every row of
  // a dense matrix whose row length is a multiple of 16 floats.
  void* p = large ? largeAllocate(cls) : smallAllocate(cls);
  if (!p) {
    trim();  // give the cache back and try once more
    p = large ? largeAllocate(cls) : smallAllocate(cls);
  }
  if (!p) fail(code::kOutOfMemory, ErrorKind::Error, "out of host memory allocating ", bytes, " bytes");
  return p;
}

void BlockCache::deallocate(void* p, std::size_t bytes) noexcept {
  const std::size_t cls = sizeClass(bytes);
  if (cls < kMinCached) {
    smallFree(p);
    return;
  }
  if (cls <= kMaxBlock) {
    std::lock_guard<std::mutex> g(m_);
    if (free_.bytes() + cls <= maxCached_) {
      try {
        free_.put(p, cls);
        return;
      } catch (...) {  // bookkeeping allocation failed: just free
      }
    }
  }
  largeFree(p, cls);
}

void BlockCache::trim() noexcept {
  FreeLists all;
  {
    std::lock_guard<std::mutex> g(m_);
    all = free_.takeAll();
  }
  // Every cached block is of a class of kMinCached or more: pages of ours.
  // The lists are walked outside the lock, so munmap does not hold it up.
  all.releaseAll([](void* p, std::size_t cls) { largeFree(p, cls); });
}

std::size_t BlockCache::cacheLimit() {
  return cacheLimitFromEnv("ORTHO_CPU_CACHE_MB", kDefaultCacheMb << 20, "256 MiB");
}

// 64-byte multiples below kMinCached; above, eighths of a power of two
// (at most 12.5% slack), so that nearby sizes share a list.
std::size_t BlockCache::sizeClass(std::size_t bytes) {
  if (bytes < kMinCached) return bytes == 0 ? 64 : (bytes + 63) & ~std::size_t(63);
  return eighthSizeClass(bytes, kMinCached);
}

}  // namespace ortho
