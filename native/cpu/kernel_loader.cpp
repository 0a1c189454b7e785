#include "kernel_loader.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "../core/error.h"
#include "../core/parallel.h"
#include "cpu_features.h"

#if ORTHO_CPU_DISPATCH
#include <dlfcn.h>
#endif

namespace ortho::cpu {
namespace {

void hostParallelFor(int64_t n, int64_t grain, void (*fn)(void*, int64_t, int64_t), void* ctx) {
  parallelFor(n, grain, [fn, ctx](int64_t b, int64_t e) { fn(ctx, b, e); });
}

// The code pointer a library passes points into that library; the error
// keeps the addon's own constant (the same text).
void hostThrowError(const char* c, int kind, const char* message) {
  static const char* const known[] = {code::kShape,      code::kDtype,       code::kDevice,
                                      code::kNonFinite,  code::kNotPositiveDefinite, code::kRankDeficient,
                                      code::kDisposed,   code::kNoGrad,      code::kInvalidArg,
                                      code::kOutOfMemory, code::kCuda,       code::kInternal};
  const char* own = code::kInternal;
  for (const char* k : known)
    if (c && std::strcmp(c, k) == 0) own = k;
  throwError(own, static_cast<ErrorKind>(kind), message ? message : "");
}

const HostServices kHost{kKernelAbi, &cpuThreads, &hostParallelFor, &hostThrowError};

KernelChoice refuse(KernelChoice k, const char* code, const std::string& why) {
  k.errorCode = code;
  k.error = why;
  return k;
}

#if ORTHO_CPU_DISPATCH
std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

// The folder of this addon: the kernel libraries lie beside it.
std::string addonFolder() {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&hostParallelFor), &info) || !info.dli_fname) return ".";
  std::string path = info.dli_fname;
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Loads one level's library; null with `why` set when it cannot be used.
const KernelSet* open(const std::string& file, const char* level, std::string& why) {
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* e = dlerror();
    why = e ? e : "dlopen failed";
    return nullptr;
  }
  using Entry = const KernelSet* (*)(const HostServices*);
  auto entry = reinterpret_cast<Entry>(dlsym(handle, "ortho_cpu_kernels_v1"));
  const KernelSet* set = entry ? entry(&kHost) : nullptr;
  if (!set || set->abi != kKernelAbi || std::strcmp(set->level, level) != 0) {
    why = file + " is not this build's " + level + " kernel library (a stale file?)";
    // Left loaded: its code may have run, and unloading buys nothing.
    return nullptr;
  }
  return set;
}
#endif

KernelChoice choose() {
  KernelChoice k;
  const CpuFeatures& cpu = cpuFeatures();
  const char* env = std::getenv("ORTHO_CPU_LEVEL");
  const std::string asked = env ? env : "";
#if ORTHO_CPU_DISPATCH
  // ORTHO_CPU_LEVELS: the levels CMake built, lowest first ("baseline,v3,v4").
  std::vector<Level> levels;
  {
    std::istringstream is(ORTHO_CPU_LEVELS);
    std::string name;
    Level l;
    while (std::getline(is, name, ','))
      if (parseLevel(name, l)) {
        levels.push_back(l);
        k.built.push_back(name);
      }
  }
  const std::string dir = addonFolder();
  auto fileOf = [&](Level l) { return dir + "/orthogonium-cpu-" + levelName(l) + ".so"; };
  std::vector<Level> tries;
  if (!asked.empty()) {
    Level l;
    if (!parseLevel(asked, l))
      return refuse(k, code::kInvalidArg,
                  "ORTHO_CPU_LEVEL=" + asked + " is not a level; use one of baseline, v2, v3, v4 (this build has " +
                      join(k.built, ", ") + "), or leave it unset for the best this CPU runs");
    if (l > cpu.level)
      return refuse(k, code::kDevice,
                  "ORTHO_CPU_LEVEL=" + asked + ", but this CPU or its OS lacks " + join(cpu.missing[int(l)], ", ") +
                      " (it runs " + levelName(cpu.level) + ")");
    bool built = false;
    for (Level b : levels) built |= b == l;
    if (!built)
      return refuse(k, code::kDevice,
                  "ORTHO_CPU_LEVEL=" + asked + " was not built; this build has " + join(k.built, ", "));
    tries.push_back(l);
  } else {
    for (auto it = levels.rbegin(); it != levels.rend(); ++it)
      if (*it <= cpu.level) tries.push_back(*it);
    if (tries.empty())
      return refuse(k, code::kDevice,
                  std::string("this CPU runs x86-64 ") + levelName(cpu.level) + ", and this build has only " +
                      join(k.built, ", ") + "; rebuild with ORTHO_CPU_LEVELS including " + levelName(cpu.level));
  }
  std::string errors;
  for (Level l : tries) {
    std::string why;
    const std::string file = fileOf(l);
    if ((k.set = open(file, levelName(l), why))) return k;
    errors += (errors.empty() ? "" : "; ") + std::string(levelName(l)) + ": " + why;
  }
  return refuse(k, code::kDevice, "the CPU kernels could not be loaded (" + errors + ")");
#else
  k.set = ortho_cpu_kernels_v1(&kHost);
  if (!k.set) return refuse(k, code::kInternal, "the CPU kernels refused this addon's interface");
  k.built.push_back(k.set->level);
  if (!asked.empty() && asked != k.set->level) {
    k.set = nullptr;
    return refuse(k, code::kDevice,
                "ORTHO_CPU_LEVEL=" + asked + ", but this build has only " + k.built[0] +
                    " (a build without CPU dispatch: ORTHO_CPU_DISPATCH=OFF or not x86-64 Linux)");
  }
  (void)cpu;
  return k;
#endif
}

}  // namespace

const KernelChoice& kernelChoice() {
  static const KernelChoice k = choose();
  return k;
}

}  // namespace ortho::cpu
