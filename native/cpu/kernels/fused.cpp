// Whole algorithms per matrix while the matrix stays in a core's cache: the
// power iteration, and Björck's steps and their backward for small
// matrices. Each declines (returns false) where it would not pay, and
// ops/ then runs its plain sequence of primitives.
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

// The step fused per matrix only where it pays: small matrices stay in
// cache from the Gram product to the GEMM. Larger ones decline, and
// ops/bjorck.cpp runs its three primitives (each blocked and parallel).
template <typename T>
bool Fused<T>::bjorckStep(int64_t batch, T beta, Mat<const T> W, Mat<T> G, Mat<T> Out) {
  const int64_t m = W.rows, n = W.cols;
#if ORTHO_SMALL_KERNELS
  if (useSmall(std::min(m, n), std::min(m, n), std::max(m, n))) {
    forEachMatrix(batch, 3.0 * m * n * std::min(m, n), [&](int64_t b) {
      smallBjorckStep(m, n, beta, W.data + b * W.stride, W.ld, G.data + b * G.stride, G.ld,
                      Out.data + b * Out.stride, Out.ld);
    });
    return true;
  }
#endif
  return false;
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

template struct Fused<float>;
template struct Fused<double>;

}  // namespace ortho::cpu
