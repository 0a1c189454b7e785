// The CPU backend: host memory (allocator.h) and the primitive table of the
// CPU kernels chosen for this CPU (kernels.h, kernel_loader.h).
#pragma once

#include "../core/backend.h"

namespace ortho {

/// Throws ERR_ORTHO_DEVICE (or ERR_ORTHO_INVALID_ARG for a bad
/// ORTHO_CPU_LEVEL) when no CPU kernels can be used.
Backend& cpuBackend();
/// The CPU's entry of listBackends(): never throws.
BackendInfo cpuInfo();

}  // namespace ortho
