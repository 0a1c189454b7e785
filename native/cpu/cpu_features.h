// What the CPU this process runs on can execute, asked of the CPU itself
// (CPUID, and XGETBV for the vector state the OS saves), never of
// /proc/cpuinfo, which hypervisors and emulators mask. Compiled for baseline
// x86-64 like the rest of the addon: nothing here runs an instruction the
// answer has not cleared.
#pragma once

#include <string>
#include <vector>

namespace ortho::cpu {

/// The x86-64 micro-architecture levels (psABI): baseline (SSE2), v2
/// (SSE4.2, POPCNT), v3 (AVX2, FMA, BMI2), v4 (AVX-512 F/BW/CD/DQ/VL).
enum class Level { Baseline = 0, V2 = 1, V3 = 2, V4 = 3 };
inline constexpr int kLevels = 4;

const char* levelName(Level level);
/// The level named `name` ("baseline", "v2", "v3", "v4"); false if none.
bool parseLevel(const std::string& name, Level& level);

struct CpuFeatures {
  bool x86 = false;        ///< false elsewhere: no levels, the single build runs
  Level level = Level::Baseline;  ///< the highest level the CPU and OS support
  std::vector<std::string> present;  ///< the level features found, in psABI order
  std::string vendor;      ///< CPUID's vendor string
  /// For each level, the features it needs that this CPU or OS lacks
  /// ("avx512f", "os:zmm-state", ...); empty for every level <= `level`.
  std::vector<std::string> missing[kLevels];
};

/// Asked once per process.
const CpuFeatures& cpuFeatures();

}  // namespace ortho::cpu
