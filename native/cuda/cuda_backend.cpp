// The CUDA backend: one CudaBackend per GPU, created on first use, and the
// probe behind backends() (driver, devices, libraries).
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>

#include "../core/backend.h"
#include "allocator.h"
#include "check.h"
#include "context.h"
#include "libs.h"
#include "prim_timer.h"
#include "primitives.h"

namespace ortho {
namespace {

using cuda::DeviceContext;

/// Oldest architecture with kernels in this build (CMake's list starts at 7.5).
constexpr int kMinComputeCapability = 75;

std::string cudaVersionStr(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

/// What the machine offers, probed once per process.
struct Probe {
  bool available = false;
  std::string reason;
  int driverVersion = 0, runtimeVersion = 0;
  int deviceCount = 0;
  std::vector<std::string> names;
  std::vector<int> computeCapability;  // major * 10 + minor
  std::vector<std::size_t> memoryBytes;  // totalGlobalMem
  std::string detail;
  /// The error code of using CUDA when it is unavailable: ERR_ORTHO_DEVICE,
  /// or ERR_ORTHO_INVALID_ARG for a setting that is wrong.
  const char* reasonCode = code::kDevice;
};

Probe probeOnce() {
  Probe p;
  cudaDriverGetVersion(&p.driverVersion);
  cudaRuntimeGetVersion(&p.runtimeVersion);
  cudaGetLastError();
  std::ostringstream detail;
  detail << "CUDA runtime " << cudaVersionStr(p.runtimeVersion) << " (static)";
  if (p.driverVersion) detail << ", driver supports CUDA " << cudaVersionStr(p.driverVersion);
  const cudaError_t e = cudaGetDeviceCount(&p.deviceCount);
  const std::string err = e == cudaSuccess ? std::string()
                                           : std::string(cudaGetErrorString(e)) + " (" + cudaGetErrorName(e) + ")";
  cudaGetLastError();
  if (p.driverVersion == 0) {
    p.reason = "no NVIDIA driver found (libcuda.so.1 could not be loaded; cudaGetDeviceCount: " +
               (err.empty() ? std::string("no error") : err) + ")";
  } else if (p.driverVersion < p.runtimeVersion) {
    p.reason = "the NVIDIA driver supports CUDA " + cudaVersionStr(p.driverVersion) + ", older than the CUDA " +
               cudaVersionStr(p.runtimeVersion) + " runtime this addon is built with; install driver 580 or newer" +
               (err.empty() ? "" : " (cudaGetDeviceCount: " + err + ")");
  } else if (e != cudaSuccess) {
    p.reason = "cudaGetDeviceCount failed: " + err;
    p.deviceCount = 0;
  } else if (p.deviceCount == 0) {
    p.reason = "no CUDA device found (cudaGetDeviceCount returned 0)";
  }
  for (int i = 0; i < p.deviceCount && p.reason.empty(); ++i) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      cudaGetLastError();
      p.names.push_back("?");
      p.computeCapability.push_back(0);
      p.memoryBytes.push_back(0);
      continue;
    }
    p.names.emplace_back(prop.name);
    p.computeCapability.push_back(prop.major * 10 + prop.minor);
    p.memoryBytes.push_back(prop.totalGlobalMem);
    detail << "; cuda:" << i << " " << prop.name << " (sm_" << prop.major << prop.minor << ", "
           << (prop.totalGlobalMem >> 20) << " MiB)";
  }
  if (p.reason.empty()) {
    const cudalib::LoadResult& libs = cudalib::load();
    if (!libs.ok) {
      p.reason = libs.reason;
    } else {
      detail << "; " << libs.versions << " from";
      for (const std::string& f : libs.files) detail << ' ' << f;
      detail << "; fused kernels " << (fusedKernelsEnabled() ? "on" : "off (ORTHO_FUSED=0)");
      try {
        // The cap of each device's cache of freed blocks (checked here so
        // that a wrong value shows in backends() and fails every use).
        const char* cap = std::getenv("ORTHO_CUDA_CACHE_MB");
        const std::size_t bytes = cuda::CachingAllocator::cacheLimit(0);
        if (cap && *cap)
          detail << "; freed blocks cached up to " << (bytes >> 20) << " MiB per device (ORTHO_CUDA_CACHE_MB)";
        else
          detail << "; freed blocks cached up to a quarter of each device's memory (ORTHO_CUDA_CACHE_MB unset)";
        p.available = true;
      } catch (const OrthoError& e) {
        p.reason = e.what();
        p.reasonCode = e.code();
      }
    }
  }
  p.detail = detail.str();
  return p;
}

const Probe& probe() {
  static std::once_flag once;
  static Probe* p = nullptr;
  std::call_once(once, [] { p = new Probe(probeOnce()); });
  return *p;
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(int index, std::size_t memoryBytes)
      : alloc_(index, cuda::CachingAllocator::cacheLimit(memoryBytes)), f32_(ctx_), f64_(ctx_) {
    const cudalib::LoadResult& libs = cudalib::load();
    ctx_.index = index;
    ctx_.api = &libs.api;
    ctx_.alloc = &alloc_;
    ctx_.fused = fusedKernelsEnabled();
    ctx_.activate();
    ORTHO_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx_.stream, cudaStreamNonBlocking));
    const cudalib::Api& api = libs.api;
    ORTHO_CUBLAS_CHECK(api.cublasCreate_v2(&ctx_.blas));
    ORTHO_CUBLAS_CHECK(api.cublasSetStream_v2(ctx_.blas, ctx_.stream));
    // No TF32: float32 results must match the CPU to 1e-4 relative.
    ORTHO_CUBLAS_CHECK(api.cublasSetMathMode(ctx_.blas, cudalib::cublasMath_t::DEFAULT));
    ORTHO_CUBLAS_CHECK(api.cublasSetPointerMode_v2(ctx_.blas, cudalib::cublasPointerMode_t::HOST));
    ORTHO_CUSOLVER_CHECK(api.cusolverDnCreate(&ctx_.solver));
    ORTHO_CUSOLVER_CHECK(api.cusolverDnSetStream(ctx_.solver, ctx_.stream));
    ORTHO_CUSOLVER_CHECK(api.cusolverDnCreateParams(&ctx_.solverParams));
  }
  // Why no destructor work: backends live until the process exits, and
  // destroying handles or streams after the CUDA runtime has begun its own
  // teardown crashes; the driver reclaims everything at exit.

  Device device() const override { return Device::cuda(ctx_.index); }

  void* allocate(std::size_t bytes) override { return alloc_.allocate(bytes); }
  void deallocate(void* p, std::size_t) noexcept override { alloc_.deallocate(p); }

  void copyToHost(void* dst, const void* src, std::size_t bytes) override {
    if (!bytes) return;
    ctx_.activate();
    ORTHO_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx_.stream));
    ORTHO_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  }
  void copyFromHost(void* dst, const void* src, std::size_t bytes) override {
    if (!bytes) return;
    ctx_.activate();
    ORTHO_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx_.stream));
    // The host buffer may be freed as soon as we return.
    ORTHO_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  }
  void copyOnDevice(void* dst, const void* src, std::size_t bytes) override {
    if (!bytes) return;
    ctx_.activate();
    cuda::PrimTimer timer(ctx_, "copyOnDevice");
    ORTHO_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx_.stream));
  }
  void synchronize() override {
    ctx_.activate();
    ORTHO_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  }

  std::unique_lock<std::mutex> lockForOperation() override { return std::unique_lock<std::mutex>(opMutex_); }

  Primitives<float>& f32() override { return f32_; }
  Primitives<double>& f64() override { return f64_; }

  cuda::CachingAllocator& allocator() { return alloc_; }

 private:
  DeviceContext ctx_;
  cuda::CachingAllocator alloc_;
  // Why a lock per device: the stream, the handles and the order of work on
  // them are shared by every operation on this GPU.
  std::mutex opMutex_;
  cuda::CudaPrimitives<float> f32_;
  cuda::CudaPrimitives<double> f64_;
};

// The backend of cuda:index, created on first use.
CudaBackend& cudaBackendOf(int index) {
  const Probe& p = probe();
  if (!p.available) fail(p.reasonCode, ErrorKind::Error, "CUDA is not available: ", p.reason);
  if (index < 0 || index >= p.deviceCount) {
    std::ostringstream names;
    for (int i = 0; i < p.deviceCount; ++i) names << (i ? ", " : "") << "cuda:" << i << " " << p.names[i];
    fail(code::kDevice, ErrorKind::Error, "cuda:", index, " does not exist: this machine has ", p.deviceCount,
         " CUDA device", p.deviceCount == 1 ? "" : "s", " (", names.str(), ")");
  }
  if (p.computeCapability[index] < kMinComputeCapability)
    fail(code::kDevice, ErrorKind::Error, "cuda:", index, " (", p.names[index], ") has compute capability ",
         p.computeCapability[index] / 10, ".", p.computeCapability[index] % 10,
         "; this build has kernels for 7.5 and newer");
  static std::mutex mutex;
  // Why leaked: see CudaBackend; tensors hold references to their backend.
  static std::vector<CudaBackend*> backends;
  std::lock_guard<std::mutex> g(mutex);
  if (backends.empty()) backends.resize(static_cast<std::size_t>(p.deviceCount), nullptr);
  CudaBackend*& slot = backends[static_cast<std::size_t>(index)];
  if (!slot) slot = new CudaBackend(index, p.memoryBytes[static_cast<std::size_t>(index)]);  // throws ERR_ORTHO_CUDA; a later call retries
  return *slot;
}

}  // namespace

Backend& cudaBackend(int index) { return cudaBackendOf(index); }

CudaMemoryInfo cudaMemory(int index) {
  cuda::CachingAllocator& a = cudaBackendOf(index).allocator();
  CudaMemoryInfo m;
  m.liveBytes = a.liveBytes();
  m.cachedBytes = a.cachedBytes();
  m.maxCachedBytes = a.maxCachedBytes();
  int current = 0;
  cudaGetDevice(&current);
  cudaSetDevice(index);
  if (cudaMemGetInfo(&m.deviceFreeBytes, &m.deviceTotalBytes) != cudaSuccess) m.deviceFreeBytes = m.deviceTotalBytes = 0;
  cudaSetDevice(current);
  cudaGetLastError();
  return m;
}

BackendInfo cudaInfo() {
  const Probe& p = probe();
  BackendInfo info;
  info.name = "cuda";
  info.available = p.available;
  info.reason = p.reason;
  info.deviceCount = p.deviceCount;
  info.devices = p.names;
  info.detail = p.detail;
  return info;
}

CudaLibrariesInfo cudaLibraries() {
  const cudalib::LoadResult& libs = cudalib::load();
  CudaLibrariesInfo info;
  info.built = true;
  info.ok = libs.ok;
  info.versions = libs.versions;
  info.files = libs.files;
  info.reason = libs.reason;
  return info;
}

}  // namespace ortho
