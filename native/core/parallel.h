// A small fixed thread pool for the CPU backend. The calling thread takes
// part in its own parallel loop, so a loop never waits on a busy pool.
#pragma once

#include <cstdint>
#include <functional>

namespace ortho {

/// Worker threads used by CPU loops (the caller counts as one). Read from
/// ORTHO_NUM_THREADS at first use, else std::thread::hardware_concurrency().
int cpuThreads();

/// Runs fn(begin, end) over [0, n) split into at most 4 * cpuThreads()
/// chunks of at least `grain` items (one chunk when single-threaded), which
/// the threads claim in turn; returns when all chunks are done.
/// The first exception thrown by a chunk is rethrown here.
void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace ortho
