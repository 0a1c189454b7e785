// Chooses and loads the CPU kernels (see kernels.h): the best level built
// that this CPU runs, or the one ORTHO_CPU_LEVEL names.
#pragma once

#include <string>
#include <vector>

#include "kernels.h"

namespace ortho::cpu {

struct KernelChoice {
  const KernelSet* set = nullptr;   ///< null when no kernels could be used
  std::vector<std::string> built;   ///< the levels this build holds, lowest first
  const char* errorCode = nullptr;  ///< when !set: the code to throw
  std::string error;                ///< when !set: why
};

/// Decided and loaded once per process, at the CPU backend's first use.
const KernelChoice& kernelChoice();

}  // namespace ortho::cpu
