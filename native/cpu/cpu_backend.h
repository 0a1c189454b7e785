// The CPU backend: the primitive table on Eigen, parallel over the batch (or
// over blocks of one large matrix) with the shared thread pool.
#pragma once

#include <string>

#include "../core/backend.h"

namespace ortho {

Backend& cpuBackend();
/// Eigen version, SIMD instruction sets compiled in, thread count.
std::string cpuBackendDetail();

}  // namespace ortho
