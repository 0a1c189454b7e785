#include "backend.h"

#include "../cpu/cpu_backend.h"

namespace ortho {

Backend& backendFor(const Device& d) {
  if (d.isCpu()) return cpuBackend();
  return cudaBackend(d.index);
}

std::vector<BackendInfo> listBackends() {
  return {cpuInfo(), cudaInfo()};
}

}  // namespace ortho
