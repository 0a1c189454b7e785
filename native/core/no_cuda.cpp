// Linked when the addon is built without the CUDA backend.
#include "backend.h"

namespace ortho {

static const char* kReason =
    "this build of orthogonium-node has no CUDA backend (compiled with ORTHO_CUDA=OFF or without nvcc)";

Backend& cudaBackend(int) { fail(code::kDevice, ErrorKind::Error, "CUDA is not available: ", kReason); }

CudaMemoryInfo cudaMemory(int) { fail(code::kDevice, ErrorKind::Error, "CUDA is not available: ", kReason); }

BackendInfo cudaInfo() {
  BackendInfo info;
  info.name = "cuda";
  info.available = false;
  info.reason = kReason;
  return info;
}

CudaLibrariesInfo cudaLibraries() {
  CudaLibrariesInfo info;
  info.reason = kReason;
  return info;
}

}  // namespace ortho
