// Seeded normal samples, generated on the host in float64 so that a seed
// gives the same values on every device and (up to rounding) in both dtypes.
#pragma once

#include <cstdint>
#include <vector>

namespace ortho {

/// n standard-normal samples from xoshiro256++ seeded by splitmix64(seed),
/// turned into normals by the Box-Muller transform (pairs of uniforms).
std::vector<double> normalSamples(uint64_t seed, int64_t n);

/// A seed from the operating system's entropy source.
uint64_t randomSeed();

}  // namespace ortho
