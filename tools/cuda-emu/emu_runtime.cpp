// CPU emulation of the CUDA runtime and of kernel execution (fibers).
#include <cuda_runtime.h>
#undef threadIdx
#undef blockIdx
#undef blockDim
#undef gridDim
#include <ucontext.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace emu {
ThreadCtx* cur = nullptr;
static cudaError_t lastError = cudaSuccess;
static std::recursive_mutex launchMutex;  // one kernel at a time (blocks share statics)

struct FiberState {
  ucontext_t ctx;
  ThreadCtx t;
  bool done = false;
  std::vector<char> stack;
};
static std::vector<FiberState> fibers;
static ucontext_t schedCtx;
static FiberState* running = nullptr;
static std::function<void()>* body = nullptr;
static unsigned nThreads = 0;
static unsigned long blockGen = 0, blockArrived = 0;
static std::vector<unsigned long> warpGen, warpArrived;
static std::vector<double> warpSlotMem;
static std::vector<unsigned char> smemBuf;

static void yieldToScheduler() { swapcontext(&running->ctx, &schedCtx); }

void syncthreads() {
  unsigned long g = blockGen;
  if (++blockArrived == nThreads) { blockArrived = 0; ++blockGen; return; }
  while (blockGen == g) yieldToScheduler();
}
void syncwarp() {
  int w = cur->linear >> 5;
  unsigned members = std::min<unsigned>(32, nThreads - w * 32);
  unsigned long g = warpGen[w];
  if (++warpArrived[w] == members) { warpArrived[w] = 0; ++warpGen[w]; return; }
  while (warpGen[w] == g) yieldToScheduler();
}
double* warpSlots() { return &warpSlotMem[(cur->linear >> 5) * 32]; }
unsigned char* dynamicSmem() { return smemBuf.data(); }
void markLaunchError(cudaError_t e) { lastError = e; }

static void fiberMain() {
  FiberState* f = running;
  (*body)();
  f->done = true;
  swapcontext(&f->ctx, &schedCtx);
}

void launch(dim3 grid, dim3 block, size_t smem, cudaStream_t, std::function<void()> fn) {
  std::lock_guard<std::recursive_mutex> g(launchMutex);
  unsigned n = block.x * block.y * block.z;
  if (n == 0 || n > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535 || smem > 48 * 1024) {
    fprintf(stderr, "emu: bad launch grid (%u,%u,%u) block (%u,%u,%u) smem %zu\n", grid.x, grid.y, grid.z, block.x, block.y, block.z, smem);
    lastError = cudaErrorInvalidValue;
    return;
  }
  body = &fn;
  nThreads = n;
  if (fibers.size() < n) fibers.resize(n);
  warpGen.assign((n + 31) / 32, 0);
  warpArrived.assign((n + 31) / 32, 0);
  warpSlotMem.assign(((n + 31) / 32) * 32, 0.0);
  smemBuf.assign(smem + 16, 0xFF);  // NaN pattern: reading unwritten shared memory shows
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        for (unsigned i = 0; i < n; ++i) {
          FiberState& f = fibers[i];
          f.done = false;
          f.t.blockIdx = dim3(bx, by, bz);
          f.t.blockDim = block;
          f.t.gridDim = grid;
          f.t.linear = i;
          f.t.threadIdx = dim3(i % block.x, (i / block.x) % block.y, i / (block.x * block.y));
          if (f.stack.empty()) f.stack.resize(256 * 1024);
          getcontext(&f.ctx);
          f.ctx.uc_stack.ss_sp = f.stack.data();
          f.ctx.uc_stack.ss_size = f.stack.size();
          f.ctx.uc_link = nullptr;
          makecontext(&f.ctx, fiberMain, 0);
        }
        blockArrived = 0;
        unsigned alive = n;
        while (alive) {
          alive = 0;
          for (unsigned i = 0; i < n; ++i) {
            FiberState& f = fibers[i];
            if (f.done) continue;
            running = &f;
            cur = &f.t;
            swapcontext(&schedCtx, &f.ctx);
            if (!f.done) ++alive;
          }
        }
      }
  cur = nullptr;
}
}  // namespace emu

using namespace emu;
cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
cudaError_t cudaDriverGetVersion(int* v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaRuntimeGetVersion(int* v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
cudaError_t cudaGetLastError() { auto e = lastError; lastError = cudaSuccess; return e; }
const char* cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "emulated error"; }
const char* cudaGetErrorName(cudaError_t e) { return e == cudaSuccess ? "cudaSuccess" : "cudaErrorEmulated"; }
// Device memory: host blocks, each after a header holding its size, so that
// cudaMemGetInfo reports what the process holds (free = total - held).
// ORTHO_EMU_DEVICE_MB makes the device that small: cudaMalloc beyond it
// fails with cudaErrorMemoryAllocation, as on a full GPU.
constexpr size_t kHeader = sizeof(size_t) * 2;
static std::atomic<size_t> liveDeviceBytes{0};
static size_t deviceBytes() {
  static const size_t total = [] {
    const char* mb = std::getenv("ORTHO_EMU_DEVICE_MB");
    return mb && *mb ? size_t(std::strtoull(mb, nullptr, 10)) << 20 : size_t(1) << 34;
  }();
  return total;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) { std::strcpy(p->name, "Emulated GPU"); p->major = 9; p->minor = 0; p->totalGlobalMem = deviceBytes(); return cudaSuccess; }
cudaError_t cudaMalloc(void** p, size_t n) {
  if (liveDeviceBytes.fetch_add(n) + n > deviceBytes()) {
    liveDeviceBytes -= n;
    return cudaErrorMemoryAllocation;
  }
  void* q = std::malloc(n + kHeader);
  if (!q) {
    liveDeviceBytes -= n;
    return cudaErrorMemoryAllocation;
  }
  std::memset(q, 0xFF, n + kHeader);  // NaN pattern for unwritten device memory
  *static_cast<size_t*>(q) = n;
  *p = static_cast<char*>(q) + kHeader;
  return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  void* q = static_cast<char*>(p) - kHeader;
  liveDeviceBytes -= *static_cast<size_t*>(q);
  std::free(q);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* f, size_t* t) {
  *t = deviceBytes();
  *f = *t - liveDeviceBytes.load();
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t) { std::memmove(d, s, n); return cudaSuccess; }
cudaError_t cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t) { std::memset(d, v, n); return cudaSuccess; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) { *s = reinterpret_cast<cudaStream_t>(new char[1]); return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
// Events (ORTHO_CUDA_PROFILE): launches run synchronously here, so an event
// is the host time at which it was recorded.
struct CUevent_st { std::chrono::steady_clock::time_point t; };
cudaError_t cudaEventCreate(cudaEvent_t* e) { *e = new CUevent_st{}; return cudaSuccess; }
cudaError_t cudaEventDestroy(cudaEvent_t e) { delete e; return cudaSuccess; }
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) { e->t = std::chrono::steady_clock::now(); return cudaSuccess; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return cudaSuccess;
}
