#include "cpu_features.h"

#include <cstdint>
#include <cstring>

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define ORTHO_X86_CPUID 1
#elif defined(_M_X64)
#include <intrin.h>
#define ORTHO_X86_CPUID 1
#endif

namespace ortho::cpu {
namespace {

#if ORTHO_X86_CPUID
struct Regs {
  uint32_t a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(uint32_t leaf, uint32_t sub = 0) {
  Regs r;
#if defined(_MSC_VER) && !defined(__clang__)
  int v[4];
  __cpuidex(v, static_cast<int>(leaf), static_cast<int>(sub));
  r.a = v[0], r.b = v[1], r.c = v[2], r.d = v[3];
#else
  // __get_cpuid_count checks the highest leaf first (0 when unsupported).
  if (!__get_cpuid_count(leaf, sub, &r.a, &r.b, &r.c, &r.d)) r = Regs{};
#endif
  return r;
}

// XCR0: which register state the OS saves on a context switch. Only called
// when CPUID says OSXSAVE (else XGETBV itself would fault). Written as the
// instruction's bytes so that this file needs no -mxsave.
uint64_t xcr0() {
#if defined(_MSC_VER) && !defined(__clang__)
  return _xgetbv(0);
#else
  uint32_t lo, hi;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
#endif
}

bool bit(uint32_t reg, int n) { return (reg >> n) & 1u; }

CpuFeatures detect() {
  CpuFeatures f;
  f.x86 = true;
  const Regs v = cpuid(0);
  char vendor[13] = {};
  std::memcpy(vendor, &v.b, 4);
  std::memcpy(vendor + 4, &v.d, 4);
  std::memcpy(vendor + 8, &v.c, 4);
  f.vendor = vendor;
  const uint32_t maxLeaf = v.a;
  const Regs l1 = cpuid(1);
  const Regs l7 = maxLeaf >= 7 ? cpuid(7, 0) : Regs{};
  const uint32_t maxExt = cpuid(0x80000000u).a;
  const Regs e1 = maxExt >= 0x80000001u ? cpuid(0x80000001u) : Regs{};
  const bool osxsave = bit(l1.c, 27);
  const uint64_t xcr = osxsave ? xcr0() : 0;

  struct Feature {
    const char* name;
    bool has;
    int level;  // the lowest level that needs it
  };
  const Feature table[] = {
      {"cx16", bit(l1.c, 13), 1},
      {"lahf_lm", bit(e1.c, 0), 1},
      {"popcnt", bit(l1.c, 23), 1},
      {"sse3", bit(l1.c, 0), 1},
      {"ssse3", bit(l1.c, 9), 1},
      {"sse4_1", bit(l1.c, 19), 1},
      {"sse4_2", bit(l1.c, 20), 1},
      {"avx", bit(l1.c, 28), 2},
      {"avx2", bit(l7.b, 5), 2},
      {"bmi1", bit(l7.b, 3), 2},
      {"bmi2", bit(l7.b, 8), 2},
      {"f16c", bit(l1.c, 29), 2},
      {"fma", bit(l1.c, 12), 2},
      {"lzcnt", bit(e1.c, 5), 2},  // /proc/cpuinfo calls it abm
      {"movbe", bit(l1.c, 22), 2},
      {"osxsave", osxsave, 2},
      // The OS saves the SSE and AVX registers (XCR0 bits 1, 2).
      {"os:ymm-state", (xcr & 0x6) == 0x6, 2},
      {"avx512f", bit(l7.b, 16), 3},
      {"avx512bw", bit(l7.b, 30), 3},
      {"avx512cd", bit(l7.b, 28), 3},
      {"avx512dq", bit(l7.b, 17), 3},
      {"avx512vl", bit(l7.b, 31), 3},
      // ... and the opmask and ZMM registers (XCR0 bits 5, 6, 7).
      {"os:zmm-state", (xcr & 0xe6) == 0xe6, 3},
  };
  for (const Feature& x : table) {
    if (x.has)
      f.present.push_back(x.name);
    else
      for (int l = x.level; l < kLevels; ++l) f.missing[l].push_back(x.name);
  }
  int level = 0;
  while (level + 1 < kLevels && f.missing[level + 1].empty()) ++level;
  f.level = static_cast<Level>(level);
  return f;
}
#else
CpuFeatures detect() { return CpuFeatures{}; }
#endif

}  // namespace

const char* levelName(Level level) {
  switch (level) {
    case Level::Baseline: return "baseline";
    case Level::V2: return "v2";
    case Level::V3: return "v3";
    case Level::V4: return "v4";
  }
  return "?";
}

bool parseLevel(const std::string& name, Level& level) {
  for (int l = 0; l < kLevels; ++l)
    if (name == levelName(static_cast<Level>(l))) {
      level = static_cast<Level>(l);
      return true;
    }
  return false;
}

const CpuFeatures& cpuFeatures() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace ortho::cpu
