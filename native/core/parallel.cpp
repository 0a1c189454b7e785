#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ortho {
namespace {

// One parallel loop in flight: chunks are claimed with an atomic counter by
// the caller and by pool workers alike.
struct Loop {
  const std::function<void(int64_t, int64_t)>* fn;
  int64_t n, chunk, chunks;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::mutex m;
  std::condition_variable cv;
  std::exception_ptr error;

  // Claims and runs chunks until none is left.
  void work() {
    for (;;) {
      int64_t c = next.fetch_add(1);
      if (c >= chunks) return;
      int64_t b = c * chunk, e = std::min(n, b + chunk);
      try {
        (*fn)(b, e);
      } catch (...) {
        std::lock_guard<std::mutex> g(m);
        if (!error) error = std::current_exception();
      }
      if (done.fetch_add(1) + 1 == chunks) {
        std::lock_guard<std::mutex> g(m);
        cv.notify_all();
      }
    }
  }
};

// Why a process-wide pool: several async jobs may run at once on libuv's
// threads; sharing one pool of (cores - 1) helpers keeps the total number of
// computing threads near the core count instead of multiplying it.
class Pool {
 public:
  explicit Pool(int helpers) {
    for (int i = 0; i < helpers; ++i) threads_.emplace_back([this] { run(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> g(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void post(const std::shared_ptr<Loop>& loop, int copies) {
    {
      std::lock_guard<std::mutex> g(m_);
      for (int i = 0; i < copies; ++i) queue_.push_back(loop);
    }
    cv_.notify_all();
  }

 private:
  void run() {
    for (;;) {
      std::shared_ptr<Loop> loop;
      {
        std::unique_lock<std::mutex> g(m_);
        cv_.wait(g, [this] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        loop = std::move(queue_.front());
        queue_.pop_front();
      }
      loop->work();
    }
  }
  std::vector<std::thread> threads_;
  std::deque<std::shared_ptr<Loop>> queue_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
};

int readThreads() {
  if (const char* env = std::getenv("ORTHO_NUM_THREADS")) {
    int v = std::atoi(env);
    if (v >= 1 && v <= 1024) return v;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? static_cast<int>(hc) : 1;
}

Pool& pool() {
  // Leaked on purpose: joining threads from a static destructor at process
  // exit can deadlock when the exit happens on a worker.
  static Pool* p = new Pool(cpuThreads() - 1);
  return *p;
}

}  // namespace

int cpuThreads() {
  static const int n = readThreads();
  return n;
}

void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  // Up to four chunks per thread, claimed in turn: when one core is slowed
  // (another process, an async call beside this one) the others take its
  // share instead of waiting for it at the end of every batched primitive.
  // The chunks depend only on n, grain and the thread count, never on
  // timing, so results are the same from run to run whichever thread runs
  // which chunk.
  const int threads = cpuThreads();
  int64_t maxChunks = std::min<int64_t>(threads == 1 ? 1 : 4 * int64_t(threads), (n + grain - 1) / grain);
  if (maxChunks <= 1) {
    fn(0, n);
    return;
  }
  auto loop = std::make_shared<Loop>();
  loop->fn = &fn;
  loop->n = n;
  loop->chunk = (n + maxChunks - 1) / maxChunks;
  loop->chunks = (n + loop->chunk - 1) / loop->chunk;
  pool().post(loop, static_cast<int>(std::min<int64_t>(loop->chunks, threads) - 1));
  loop->work();
  {
    std::unique_lock<std::mutex> g(loop->m);
    loop->cv.wait(g, [&] { return loop->done.load() == loop->chunks; });
  }
  if (loop->error) std::rethrow_exception(loop->error);
}

}  // namespace ortho
