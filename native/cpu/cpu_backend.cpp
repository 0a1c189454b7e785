#include "cpu_backend.h"

#include <cstring>

#include "../core/error.h"
#include "../core/parallel.h"
#include "cpu_features.h"
#include "allocator.h"
#include "kernel_loader.h"

namespace ortho {
namespace {

// Memory, copies and synchronization on the host; the primitives are the
// kernel library's (kernels.h).
class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const cpu::KernelSet& k) : f32_(*k.f32), f64_(*k.f64) {}
  Device device() const override { return Device::cpu(); }

  void* allocate(std::size_t bytes) override { return cache_.allocate(bytes); }
  void deallocate(void* p, std::size_t bytes) noexcept override { cache_.deallocate(p, bytes); }
  void copyToHost(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copyFromHost(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copyOnDevice(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void synchronize() override {}
  std::unique_lock<std::mutex> lockForOperation() override { return {}; }
  Primitives<float>& f32() override { return f32_; }
  Primitives<double>& f64() override { return f64_; }

 private:
  // Leaked on purpose: tensors released during process exit may outlive
  // static destructors and still hand their blocks back.
  BlockCache& cache_ = *new BlockCache;
  Primitives<float>& f32_;
  Primitives<double>& f64_;
};

}  // namespace

Backend& cpuBackend() {
  const cpu::KernelChoice& k = cpu::kernelChoice();
  if (!k.set) fail(k.errorCode, ErrorKind::Error, "orthogonium-node cannot use the cpu: ", k.error);
  // Leaked on purpose, as the cache above. A wrong ORTHO_CPU_CACHE_MB throws
  // from the constructor (ERR_ORTHO_INVALID_ARG), every time it is asked.
  static CpuBackend& backend = *new CpuBackend(*k.set);
  return backend;
}

BackendInfo cpuInfo() {
  const cpu::KernelChoice& k = cpu::kernelChoice();
  const cpu::CpuFeatures& f = cpu::cpuFeatures();
  BackendInfo info;
  info.name = "cpu";
  info.available = k.set != nullptr;
  if (!k.set) info.reason = k.error;
  try {
    BlockCache::cacheLimit();
  } catch (const OrthoError& e) {
    if (info.available) info.reason = e.what();
    info.available = false;
  }
  info.threads = cpuThreads();
  if (k.set) {
    info.detail = k.set->detail;
    if (!fusedKernelsEnabled()) info.detail += "; fused kernels off (ORTHO_FUSED=0)";
    info.level = k.set->level;
  }
  info.levels = k.built;
  if (f.x86) {
    info.cpuLevel = cpu::levelName(f.level);
    info.features = f.present;
  }
  return info;
}

}  // namespace ortho
