// The CPU kernels' interface between the addon and the kernel libraries.
//
// Why: one binary must run on every x86-64 CPU at the best speed each one
// has. The kernels (Eigen and the small register kernels, all inline and
// template code) are compiled once per CPU level into a library of their own
// (orthogonium-cpu-<level>.so beside the addon, hidden visibility, only the
// entry point exported), and the addon, compiled for baseline x86-64, loads
// the one that fits the CPU (kernel_loader.cpp, from CPUID and XGETBV in
// cpu_features.cpp). Each level's inline code stays inside its own library,
// so Eigen compiled for one level is never linked into a call from another.
// Where there is one level only (other architectures, or
// ORTHO_CPU_DISPATCH=OFF), the same sources are linked into the addon and
// the entry point is called directly.
//
// The libraries call back into the addon for the thread pool, the thread
// count and errors (HostServices), so that there is one pool per process and
// every OrthoError is thrown and caught with the addon's type information.
// Both sides are built together from one tree; kAbi guards against a stale
// library beside a newer addon.
#pragma once

#include <cstdint>

#include "../core/backend.h"

namespace ortho::cpu {

inline constexpr int kKernelAbi = 2;

struct HostServices {
  int abi;
  int (*threads)();
  /// parallelFor of core/parallel.h, with a plain function and context.
  void (*parallelFor)(int64_t n, int64_t grain, void (*fn)(void* ctx, int64_t begin, int64_t end), void* ctx);
  /// Throws an OrthoError (never returns); kind is an ErrorKind.
  void (*throwError)(const char* code, int kind, const char* message);
};

struct KernelSet {
  int abi;
  const char* level;   ///< "baseline", "v2", "v3", "v4" (x86-64) or the architecture's name
  const char* detail;  ///< Eigen's version and the SIMD instruction sets compiled in
  Primitives<float>* f32;
  Primitives<double>* f64;
};

}  // namespace ortho::cpu

/// The one exported symbol of a kernel library.
extern "C" const ortho::cpu::KernelSet* ortho_cpu_kernels_v1(const ortho::cpu::HostServices* host);
