#include "backend.h"

#include <cstdlib>
#include <cstring>

#include "../cpu/cpu_backend.h"

namespace ortho {

Backend& backendFor(const Device& d) {
  if (d.isCpu()) return cpuBackend();
  return cudaBackend(d.index);
}

bool fusedKernelsEnabled() {
  static const bool on = [] {
    const char* v = std::getenv("ORTHO_FUSED");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  return on;
}

std::vector<BackendInfo> listBackends() {
  return {cpuInfo(), cudaInfo()};
}

}  // namespace ortho
