// Grouped dot products and scalings (the power iteration's and
// L2Normalize's reductions) and the count of non-finite values.
#include <atomic>
#include <cstring>
#include <type_traits>

#include "common.h"
#include "primitives.h"

namespace ortho::cpu {
namespace {

// How far the group index moves per step along each dim (0 for a reduced
// dim): kept dims number the groups in row-major order.
std::vector<int64_t> groupStrides(const GroupLayout& g) {
  std::vector<int64_t> gstride(g.sizes.size(), 0);
  int64_t s = 1;
  for (std::size_t d = g.sizes.size(); d-- > 0;)
    if (!g.reduce[d]) {
      gstride[d] = s;
      s *= g.sizes[d];
    }
  return gstride;
}

// Visits runs r0 .. r1-1 of the innermost dim (run r starts at element
// r * sizes.back()) in memory order, with the group index of the run's first
// element. Along a run the group is fixed (innermost dim reduced) or steps
// by one (kept).
template <typename Fn>
void forEachRun(const GroupLayout& g, const std::vector<int64_t>& gstride, int64_t r0, int64_t r1, Fn&& fn) {
  const std::size_t nd = g.sizes.size();
  // The outer dims' index of run r0 (one division per dim), then stepped.
  std::vector<int64_t> idx(nd, 0);
  int64_t grp = 0;
  for (std::size_t d = nd - 1, rem = static_cast<std::size_t>(r0); d-- > 0;) {
    idx[d] = static_cast<int64_t>(rem % static_cast<std::size_t>(g.sizes[d]));
    rem /= static_cast<std::size_t>(g.sizes[d]);
    grp += idx[d] * gstride[d];
  }
  for (int64_t r = r0; r < r1; ++r) {
    fn(r, grp);
    for (std::size_t d = nd - 1; d-- > 0;) {
      if (++idx[d] < g.sizes[d]) {
        grp += gstride[d];
        break;
      }
      grp -= gstride[d] * (g.sizes[d] - 1);
      idx[d] = 0;
    }
  }
}

}  // namespace

template <typename T>
void Reductions<T>::groupDot(const GroupLayout& g, const T* x, const T* y, T* out) {
  if (g.contiguousGroups()) {
    const int64_t G = g.groups(), S = g.groupSize();
    if (S <= 2 * kReduceChunk) {
      parallelFor(G, std::max<int64_t>(1, int64_t(kParallelFlops / S)), [&](int64_t g0, int64_t g1) {
        for (int64_t i = g0; i < g1; ++i) out[i] = static_cast<T>(dot(x + i * S, y + i * S, S));
      });
      return;
    }
    // Long groups (L2Normalize over a whole tensor): fixed chunks of every
    // group summed in parallel, then the partial sums of a group added in
    // chunk order. The chunks depend on S only, so the result does not
    // depend on the thread count or timing.
    const int64_t C = (S + kReduceChunk - 1) / kReduceChunk;
    std::vector<double> partial(static_cast<std::size_t>(G * C));
    forEachChunk(G, S, [&](int64_t t, int64_t i, int64_t k0, int64_t k1) {
      partial[t] = dot(x + i * S + k0, y + i * S + k0, k1 - k0);
    });
    for (int64_t i = 0; i < G; ++i) {
      double sum = 0;
      for (int64_t c = 0; c < C; ++c) sum += partial[i * C + c];
      out[i] = static_cast<T>(sum);
    }
    return;
  }
  // General layout (e.g. the columns of a batch of matrices), by runs of
  // the innermost dim. Each group's sum is in a fixed order, so the result
  // does not depend on the thread count or timing.
  std::vector<double> acc(static_cast<std::size_t>(g.groups()), 0.0);
  const int64_t K = g.sizes.back(), runs = K > 0 ? g.numel() / K : 0;
  const std::vector<int64_t> gstride = groupStrides(g);
  if (runs == 0) {
    // No elements: every group's sum is 0.
  } else if (!g.reduce.back()) {
    // Innermost dim kept: a slice [k0, k1) of it meets the same groups in
    // every run and no other slice meets them, so the slices run in
    // parallel, and each group sums in memory order as on one thread.
    // Slices of whole 16-element units, so that two threads seldom write
    // the same cache line of the sums.
    constexpr int64_t kUnit = 16;
    const int64_t units = (K + kUnit - 1) / kUnit;
    parallelFor(units, std::max<int64_t>(1, int64_t(kParallelFlops / (runs * kUnit))), [&](int64_t u0, int64_t u1) {
      const int64_t k0 = u0 * kUnit, k1 = std::min(K, u1 * kUnit);
      forEachRun(g, gstride, 0, runs, [&](int64_t r, int64_t grp) {
        const T* xs = x + r * K;
        const T* ys = y + r * K;
        double* as = acc.data() + grp;
        for (int64_t k = k0; k < k1; ++k) as[k] += double(xs[k]) * double(ys[k]);
      });
    });
  } else {
    // Innermost dim reduced: each run lies in one group. The runs' dot
    // products in parallel, then added into their groups in memory order.
    std::vector<double> part(static_cast<std::size_t>(runs));
    parallelFor(runs, std::max<int64_t>(1, int64_t(kParallelFlops / K)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) part[r] = dot(x + r * K, y + r * K, K);
    });
    forEachRun(g, gstride, 0, runs, [&](int64_t r, int64_t grp) { acc[grp] += part[r]; });
  }
  for (std::size_t i = 0; i < acc.size(); ++i) out[i] = static_cast<T>(acc[i]);
}

template <typename T>
void Reductions<T>::groupScale(const GroupLayout& g, const T* a, const T* x, const T* b, const T* y, T* out) {
  if (g.contiguousGroups()) {
    const int64_t G = g.groups(), S = g.groupSize();
    // In chunks, so that one long group is split over the threads too.
    forEachChunk(G, S, [&](int64_t, int64_t i, int64_t k0, int64_t k1) {
      const T ai = a[i];
      const T* xs = x + i * S;
      T* os = out + i * S;
      if (y) {
        const T bi = b[i];
        const T* ys = y + i * S;
        for (int64_t k = k0; k < k1; ++k) os[k] = ai * xs[k] + bi * ys[k];
      } else {
        for (int64_t k = k0; k < k1; ++k) os[k] = ai * xs[k];
      }
    });
    return;
  }
  // General layout (e.g. the columns of a batch of matrices): the runs of
  // the innermost dim in parallel. Along a run the group is fixed (that dim
  // reduced) or steps by one (kept), so the inner loop vectorizes.
  const int64_t K = g.sizes.back(), runs = K > 0 ? g.numel() / K : 0;
  if (runs == 0) return;
  const bool innerKept = !g.reduce.back();
  const std::vector<int64_t> gstride = groupStrides(g);
  parallelFor(runs, std::max<int64_t>(1, int64_t(kParallelFlops / K)), [&](int64_t r0, int64_t r1) {
    forEachRun(g, gstride, r0, r1, [&](int64_t r, int64_t grp) {
      const T* xs = x + r * K;
      const T* ys = y ? y + r * K : nullptr;
      T* os = out + r * K;
      if (innerKept) {
        const T* as = a + grp;
        const T* bs = y ? b + grp : nullptr;
        if (ys)
          for (int64_t k = 0; k < K; ++k) os[k] = as[k] * xs[k] + bs[k] * ys[k];
        else
          for (int64_t k = 0; k < K; ++k) os[k] = as[k] * xs[k];
      } else {
        const T ai = a[grp];
        if (ys) {
          const T bi = b[grp];
          for (int64_t k = 0; k < K; ++k) os[k] = ai * xs[k] + bi * ys[k];
        } else {
          for (int64_t k = 0; k < K; ++k) os[k] = ai * xs[k];
        }
      }
    });
  });
}

template <typename T>
int64_t Reductions<T>::countNonFinite(int64_t n, const T* x) {
  constexpr int64_t kGrain = 1 << 16;
  std::atomic<int64_t> total{0};
  parallelFor(n, kGrain, [&](int64_t i0, int64_t i1) {
    // Exponent bits all set = infinity or NaN; integer compares vectorize
    // (std::isfinite does not), and this pass runs on every op's input and
    // output. The common case is all finite: one OR over the chunk (no
    // widening to 64-bit counters; about twice as fast in cache), and the
    // count only where that OR found something.
    using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
    constexpr Bits kExp = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
    auto bits = [x](int64_t i) {
      Bits u;
      std::memcpy(&u, x + i, sizeof u);
      return u & kExp;
    };
    Bits any = 0;
    for (int64_t i = i0; i < i1; ++i) any |= Bits(bits(i) == kExp);
    if (!any) return;
    int64_t c = 0;
    for (int64_t i = i0; i < i1; ++i) c += bits(i) == kExp;
    total += c;
  });
  return total.load();
}

template struct Reductions<float>;
template struct Reductions<double>;

}  // namespace ortho::cpu
