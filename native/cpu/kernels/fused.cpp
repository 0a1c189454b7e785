// Whole algorithms per matrix while the matrix stays in a core's cache: the
// power iteration, Björck's steps and their backward, and the polar
// forward for small matrices. Each declines (returns false) where it would not pay, and
// ops/ then runs its plain sequence of primitives.
#include <atomic>
#include <cstring>

#include "common.h"
#include "primitives.h"
#include "small_ops.h"

namespace ortho::cpu {

// Power iteration per matrix while the matrix stays in a core's cache:
// every iteration, the final u^T X v and the scaled copy read X from L2
// instead of memory (the plain sequence streams the whole batch 2 niter +
// 2 times, and each of its GEMVs is memory-bound). Only for batches that
// fill the threads and matrices of at most 512 KiB; the same arithmetic as
// the plain sequence (dots in double, 1 / (sqrt(.) + 1e-8)).
template <typename T>
bool Fused<T>::powerIteration(int64_t batch, Mat<const T> X, T* u, T* v, int niter, T eps, T* coef, T* Y) {
  const int64_t m = X.rows, n = X.cols;
  if (batch < cpuThreads() || double(m) * n * sizeof(T) > 512.0 * 1024) return false;
  using Vec = Eigen::Matrix<T, Dynamic, 1>;
  forEachMatrix(batch, (4.0 * niter + 3) * m * n, [&](int64_t b) {
    auto x = cview(X, b);
    Eigen::Map<Vec> ub(u + b * m, m), vb(v + b * n, n);
    auto normalize = [](auto& w) {
      const T r = T(1) / (std::sqrt(static_cast<T>(dot(w.data(), w.data(), w.size()))) + T(1e-8));
      w *= r;
    };
    for (int it = 0; it < niter; ++it) {
      vb.noalias() = x.transpose() * ub;
      normalize(vb);
      ub.noalias() = x * vb;
      normalize(ub);
    }
    thread_local Vec xv;
    xv.noalias() = x * vb;
    const T c = T(1) / (static_cast<T>(dot(ub.data(), xv.data(), m)) + eps);
    coef[b] = c;
    Eigen::Map<RowMat<T>>(Y + b * m * n, m, n) = c * x;
  });
  return true;
}

// The small kernels recompute a small matrix's Gram in cache for less than
// keeping it costs: at 4096 x 32 x 32 float, keeping it made the recorded
// forward 10-15 ms slower (twice that once the context outgrew the block
// cache) to save 7-20 ms of backward (docs/performance.md).
template <typename T>
bool Fused<T>::keepsBjorckGram(int64_t m, int64_t n) {
  const int64_t k = std::min(m, n);
  return !useSmall(k, k, std::max(m, n));
}

// Every unrecorded step of a small matrix before the next matrix: the
// iterate, its Gram and the next iterate (at most 3 x 64 KiB for float)
// stay in the core's L1/L2 for all the steps, and the batch is read and
// written once instead of once per step (at 4096 x 32 x 32, twelve steps
// streamed 2 x 16 MiB each). The same kernels in the same order as the
// per-step path.
template <typename T>
bool Fused<T>::bjorck(int64_t batch, Mat<const T> X, Mat<T> Y, int steps, T beta, T* const* saves, T* const* grams) {
  const int64_t m = X.rows, n = X.cols, k = std::min(m, n);
#if ORTHO_SMALL_KERNELS
  if (steps > 0 && useSmall(k, k, std::max(m, n))) {
    forEachMatrix(batch, 3.0 * m * n * k * steps, [&](int64_t b) {
      thread_local std::vector<T> scratch;
      scratch.resize(static_cast<std::size_t>(2 * m * n + k * k));
      T* cur = scratch.data();
      T* next = cur + m * n;
      T* g = next + m * n;
      const T* x = X.data + b * X.stride;
      for (int64_t i = 0; i < m; ++i) std::memcpy(cur + i * n, x + i * X.ld, sizeof(T) * n);
      for (int s = 0; s < steps; ++s) {
        // The last step writes straight into Y.
        T* out = s + 1 == steps ? Y.data + b * Y.stride : next;
        const int64_t ldo = s + 1 == steps ? Y.ld : n;
        smallBjorckStep(m, n, beta, cur, n, g, k, out, ldo);
        if (saves && s + 1 < steps && saves[s + 1]) std::memcpy(saves[s + 1] + b * m * n, out, sizeof(T) * m * n);
        if (grams && grams[s]) std::memcpy(grams[s] + b * k * k, g, sizeof(T) * k * k);
        std::swap(cur, next);
      }
    });
    return true;
  }
#endif
  return false;
}

// The backward of every recorded step of a small matrix before the next
// matrix, for the same reason as bjorck: the gradient, the saved iterate
// and the two k x k products stay in the core's cache through all the
// steps (the per-step path streams the batch five times per step). Per
// step, as ops/bjorck.cpp's stepBackward:
//   tall: out = g M - beta w S,  S = g^T w + (g^T w)^T
//   wide: out = M g - beta S w,  S = g w^T + (g w^T)^T
// with M = (1 + beta) I - beta Gram(w), saved by the forward or (ms null)
// recomputed.
template <typename T>
bool Fused<T>::bjorckBackward(int64_t batch, const T* const* ws, const T* const* ms, int steps, Mat<const T> G,
                              Mat<T> dX, T beta) {
  const int64_t m = G.rows, n = G.cols, k = std::min(m, n);
  const bool tall = m >= n;
#if ORTHO_SMALL_KERNELS
  if (steps > 0 && useSmall(k, k, std::max(m, n))) {
    forEachMatrix(batch, (ms ? 6.0 : 8.0) * m * n * k * steps, [&](int64_t b) {
      thread_local std::vector<T> scratch;
      scratch.resize(static_cast<std::size_t>(2 * m * n + 2 * k * k));
      T* g = scratch.data();
      T* out = g + m * n;
      T* S = out + m * n;
      T* Mbuf = S + k * k;
      const T* g0 = G.data + b * G.stride;
      for (int64_t i = 0; i < m; ++i) std::memcpy(g + i * n, g0 + i * G.ld, sizeof(T) * n);
      for (int s = steps; s-- > 0;) {
        const T* w = ws[s] + b * m * n;
        const T* M = ms ? ms[s] + b * k * k : Mbuf;
        if (!ms) smallFoldedGram(m, n, beta, w, n, Mbuf, k);
        // The first step (the last one run) writes straight into dX.
        T* o = s == 0 ? dX.data + b * dX.stride : out;
        const int64_t ldo = s == 0 ? dX.ld : n;
        if (tall) {
          smallProduct(m, n, k, T(1), g, n, 1, M, k, 1, T(0), o, ldo);   // g M
          smallProduct(k, n, m, T(1), g, 1, n, w, n, 1, T(0), S, k);     // g^T w
          symmetrizeSum(k, S, k);
          smallProduct(m, n, k, -beta, w, n, 1, S, k, 1, T(1), o, ldo);  // - beta w S
        } else {
          smallProduct(m, n, m, T(1), M, k, 1, g, n, 1, T(0), o, ldo);   // M g
          smallProduct(m, m, n, T(1), g, n, 1, w, 1, n, T(0), S, k);     // g w^T
          symmetrizeSum(k, S, k);
          smallProduct(m, n, m, -beta, S, k, 1, w, n, 1, T(1), o, ldo);  // - beta S w
        }
        if (s > 0) std::swap(g, out);
      }
    });
    return true;
  }
#endif
  return false;
}

// The polar forward (ops/polar.cpp) one matrix at a time while it sits in a
// core's cache: the iterate X (p x k), the next one, A = X^T X, A^2 and the
// residual's scratch (at 32 x 32 float, 20 KiB) stay in a per-thread
// scratch from the scaling through the last step, and the batch is read and
// written once. The plain sequence streams the whole batch through about
// ten primitives per step (at 4096 x 32 x 32 float, 16 MiB each time).
// The same kernels in the same order and precision as the plain sequence,
// whose products at these sizes are the same register kernels (except the
// X M product past 64 rows, Eigen's there): the same iterates up to
// rounding. A = X^T X and A^2 are computed on their lower tiles and
// mirrored (smallSymmetricProduct), bit for bit the plain sequence's syrk
// and full product, since A is exactly symmetric.
template <typename T>
bool Fused<T>::polar(int64_t count, const int64_t* which, Mat<const T> In, Mat<T> Out, bool transposed,
                     const PolarPlan& plan, PolarTrack* tracks) {
  const int64_t p = transposed ? In.cols : In.rows, k = transposed ? In.rows : In.cols;
#if ORTHO_SMALL_KERNELS
  if (p < k || !useSmall(k, k, p)) return false;
  // Fewer matrices than threads, and X M products too tall for the small
  // kernels: the plain sequence's Eigen products split each matrix's rows
  // over the threads, where this path runs one matrix per thread (float64
  // at 1 x 256 x 64: 1.34 ms here against 1.20 plain). A call that
  // continues matrices (`which`) follows the call that started them.
  if (!which && count < cpuThreads() && p > kSmallDim) return false;
  const double stepFlops = 2.0 * p * k * k + 2.0 * k * k * k;
  std::atomic<int> reached{0};  // the most checks a matrix of this call has stopped at
  forEachMatrix(count, stepFlops * (plan.scheduleSteps + 3), [&](int64_t i) {
    const int64_t b = which ? which[i] : i;
    PolarTrack& tr = tracks[b];
    thread_local std::vector<T> scratch;
    scratch.resize(static_cast<std::size_t>(2 * p * k + 3 * k * k));
    T* x = scratch.data();
    T* y = x + p * k;
    T* A = y + p * k;
    T* A2 = A + k * k;
    T* S = A2 + k * k;
    const T* src = In.data + b * In.stride;
    if (transposed) {
      for (int64_t r = 0; r < k; ++r)
        for (int64_t c = 0; c < p; ++c) x[c * k + r] = src[r * In.ld + c];
    } else {
      for (int64_t r = 0; r < p; ++r) std::memcpy(x + r * k, src + r * In.ld, sizeof(T) * k);
    }
    auto scale = [](T* v, int64_t n, T s) {
      for (int64_t e = 0; e < n; ++e) v[e] = s * v[e];
    };
    auto gram = [&] { smallSymmetricProduct(k, p, T(1), x, 1, k, x, k, 1, A, k); };  // X^T X
    auto square = [&] { smallSymmetricProduct(k, k, T(1), A, k, 1, A, k, 1, A2, k); };
    bool haveA2 = false;  // A2 holds A^2 (only right after the scaling)
    // X <- X (a I + b A + c A^2), then A = X^T X.
    auto step = [&](const double* q) {
      if (!haveA2) square();
      haveA2 = false;
      MapM<T> m2(A2, k, k, OuterStride<>(k));
      m2 = T(q[1]) * CMapM<T>(A, k, k, OuterStride<>(k)) + T(q[2]) * m2;
      for (int64_t d = 0; d < k; ++d) A2[d * k + d] += T(q[0]);
      smallProduct(p, k, k, T(1), x, k, 1, A2, k, 1, T(0), y, k);
      std::swap(x, y);
      gram();
    };
    // The residual ||A - I||_F / sqrt(k), its square rounded to T.
    auto check = [&] {
      std::memcpy(S, A, sizeof(T) * k * k);
      for (int64_t d = 0; d < k; ++d) S[d * k + d] += T(-1);
      const T h = static_cast<T>(dot(S, S, k * k));
      tr.observe(std::sqrt(std::max(0.0, double(h)) / double(k)), plan.tol);
    };
    if (tr.checks == 0) {
      // X /= ||X||_F; then s = safety ||A^2||_F^(1/8): X /= s, A /= s^2, A^2 /= s^4.
      const T h = static_cast<T>(dot(x, x, p * k));
      scale(x, p * k, h > 0 ? T(1 / std::sqrt(double(h))) : T(1));
      gram();
      square();
      const double n4 = double(static_cast<T>(dot(A2, A2, k * k)));
      const double sc = n4 > 0 ? plan.safety * std::pow(n4, 0.125) : 1.0;
      scale(x, p * k, T(1 / sc));
      scale(A, k * k, T(1 / (sc * sc)));
      scale(A2, k * k, T(1 / (sc * sc * sc * sc)));
      haveA2 = true;
      for (int s = 0; s < plan.scheduleSteps; ++s) step(plan.schedule + 3 * s);
      check();
    } else {
      gram();
    }
    // The batch stops at the first check where every matrix is done, so no
    // matrix stops before the most checks another one of this call has
    // needed so far: caught up here, in cache, rather than in the next call.
    // Never past where the batch stops (every matrix is done there), so the
    // result does not depend on the order the matrices run in.
    for (;;) {
      const int until = std::max(plan.untilChecks, reached.load(std::memory_order_relaxed));
      if ((tr.checks >= until && tr.done(plan.tol)) || plan.scheduleSteps + tr.checks - 1 >= plan.maxIters) break;
      step(plan.tail);
      check();
    }
    for (int seen = reached.load(std::memory_order_relaxed);
         seen < tr.checks && !reached.compare_exchange_weak(seen, tr.checks, std::memory_order_relaxed);) {
    }
    T* dst = Out.data + b * Out.stride;
    if (transposed) {
      for (int64_t r = 0; r < k; ++r)
        for (int64_t c = 0; c < p; ++c) dst[r * Out.ld + c] = x[c * k + r];
    } else {
      for (int64_t r = 0; r < p; ++r) std::memcpy(dst + r * Out.ld, x + r * k, sizeof(T) * k);
    }
  });
  return true;
#endif
  return false;
}

template struct Fused<float>;
template struct Fused<double>;

}  // namespace ortho::cpu
