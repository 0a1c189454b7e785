#include "bjorck_fused.cuh"
#include "common.cuh"
#include "tile_gemm.cuh"

namespace ortho::cuda {

constexpr int kBjorckMaxBlock = 256;
constexpr int64_t kBjorckMaxK = 64;                // min(m, n)

// Step pointers travel as a kernel argument (no device array to fill and
// free per call); more steps than this run as several launches, each
// picking up the matrix the previous one wrote.
constexpr int kBjorckPtrs = 32;
template <typename T>
struct StepPtrs {
  T* p[kBjorckPtrs];
};

// Shared-memory footprints, with rows padded by one against bank conflicts.
// Forward: w and the next w (m x (n + 1)) and M (k x (k + 1)).
template <typename T>
std::size_t bjorckSmem(int64_t m, int64_t n) {
  const int64_t k = std::min(m, n);
  return static_cast<std::size_t>(2 * m * (n + 1) + k * (k + 1)) * sizeof(T);
}
// Backward: g, w and the next g (m x (n + 1)), M (saved by the forward) and
// S (k x (k + 1)).
template <typename T>
std::size_t bjorckBackwardSmem(int64_t m, int64_t n) {
  const int64_t k = std::min(m, n);
  return static_cast<std::size_t>(3 * m * (n + 1) + 2 * k * (k + 1)) * sizeof(T);
}

template <typename T>
bool bjorckFusedFits(int64_t m, int64_t n) {
  return std::min(m, n) <= kBjorckMaxK && bjorckSmem<T>(m, n) <= kMaxDefaultSmem;
}

// The fused backward only where it beats the per-step path (batched cuBLAS
// GEMMs and addTransposed). H100, float32, batch 4096, Björck module
// backward, median ms (H100 run of commit 31de833, bench/gpu/): k = 8: 0.242
// fused against 0.754; 16: 0.455 against 0.727; 32: 1.725 against 1.279;
// 64 x 32: 2.845 against 1.933. Between 16 and 32 it was not measured.
constexpr int64_t kBjorckBackwardMaxK = 16;

template <typename T>
bool bjorckBackwardFusedFits(int64_t m, int64_t n) {
  return std::min(m, n) <= kBjorckBackwardMaxK && bjorckBackwardSmem<T>(m, n) <= kMaxDefaultSmem;
}

// M = (1 + beta) I - beta G, G = w^T w (tall) or w w^T (wide), k x k: the
// order of the plain path (syrk with alpha = -beta, then addDiagonal).
template <typename T>
__device__ inline void foldedGram(int m, int n, const T* w, int ldw, T beta, T* M, int ldm) {
  const int k = m < n ? m : n;
  const T negBeta = -beta, diag = T(1) + beta;
  auto store = [&](int p, int q, T g) {
    T val = negBeta * g;
    if (p == q) val += diag;
    M[p * ldm + q] = val;
  };
  if (m >= n)
    tileGemm<T>(k, k, m, w, 1, ldw, w, ldw, 1, store);
  else
    tileGemm<T>(k, k, n, w, ldw, 1, w, 1, ldw, store);
}

// Steps [first, last) of the forward; the matrix comes from X (or Y when
// first > 0: an earlier launch left it there) and ends in Y. With `saving`
// (then last - first <= kBjorckPtrs), saves.p[s - first] and
// grams.p[s - first], where non-null, receive the input of step s and its
// folded Gram M.
template <typename T>
static __global__ void bjorck_fused_kernel(int64_t batch, Mat<const T> X, Mat<T> Y, int first, int last, T beta,
                                           bool saving, StepPtrs<T> saves, StepPtrs<T> grams) {
  extern __shared__ __align__(16) unsigned char smem[];
  const int m = static_cast<int>(X.rows), n = static_cast<int>(X.cols), k = m < n ? m : n;
  const int ldw = n + 1, ldm = k + 1;
  const bool tall = m >= n;
  for (int64_t b = blockIdx.x; b < batch; b += gridDim.x) {
    T* w = reinterpret_cast<T*>(smem);
    T* w2 = w + m * ldw;
    T* M = w2 + m * ldw;
    if (first == 0)
      loadTile(X, b, w, ldw);
    else
      loadTile(Mat<const T>{Y.data, Y.rows, Y.cols, Y.ld, Y.stride}, b, w, ldw);
    __syncthreads();
    for (int s = first; s < last; ++s) {
      if (saving)
        if (T* save = saves.p[s - first]) storeTile(w, ldw, Mat<T>{save, m, n, n, int64_t(m) * n}, b);
      foldedGram(m, n, w, ldw, beta, M, ldm);
      __syncthreads();
      if (saving)
        if (T* gram = grams.p[s - first]) storeTile(M, ldm, Mat<T>{gram, k, k, k, int64_t(k) * k}, b);
      auto storeW = [&](int p, int q, T val) { w2[p * ldw + q] = val; };
      if (tall)
        tileGemm<T>(m, n, k, w, ldw, 1, M, ldm, 1, storeW);  // w M
      else
        tileGemm<T>(m, n, k, M, ldm, 1, w, ldw, 1, storeW);  // M w
      __syncthreads();
      swapBuffers(w, w2);
    }
    storeTile(w, ldw, Y, b);
    __syncthreads();  // shared memory is reloaded for the next matrix
  }
}

// The VJP of steps [first, last), last first; the gradient comes from G (or
// dX when last < steps: an earlier launch left it there) and ends in dX.
// ws.p[s - first] is the input of step s, ms.p[s - first] its folded Gram
// (saved by the forward: one product of four per step fewer). Per step, as
// ops/bjorck.cpp:
//   tall: out = g M - beta w S,  S = g^T w + (g^T w)^T
//   wide: out = M g - beta S w,  S = g w^T + (g w^T)^T
template <typename T>
static __global__ void bjorck_backward_fused_kernel(int64_t batch, Mat<const T> G, Mat<T> dX, bool fromG, int first,
                                                    int last, T beta, StepPtrs<const T> ws, StepPtrs<const T> ms) {
  extern __shared__ __align__(16) unsigned char smem[];
  const int m = static_cast<int>(G.rows), n = static_cast<int>(G.cols), k = m < n ? m : n;
  const int ldw = n + 1, ldm = k + 1;
  const bool tall = m >= n;
  const T negBeta = -beta;
  for (int64_t b = blockIdx.x; b < batch; b += gridDim.x) {
    T* g = reinterpret_cast<T*>(smem);
    T* out = g + m * ldw;
    T* w = out + m * ldw;
    T* M = w + m * ldw;
    T* S = M + k * ldm;
    if (fromG)
      loadTile(G, b, g, ldw);
    else
      loadTile(Mat<const T>{dX.data, dX.rows, dX.cols, dX.ld, dX.stride}, b, g, ldw);
    for (int s = last; s-- > first;) {
      loadTile(Mat<const T>{ws.p[s - first], m, n, n, int64_t(m) * n}, b, w, ldw);
      loadTile(Mat<const T>{ms.p[s - first], k, k, k, int64_t(k) * k}, b, M, ldm);
      __syncthreads();
      auto storeS = [&](int p, int q, T val) { S[p * ldm + q] = val; };
      if (tall)
        tileGemm<T>(k, k, m, g, 1, ldw, w, ldw, 1, storeS);  // g^T w
      else
        tileGemm<T>(k, k, n, g, ldw, 1, w, 1, ldw, storeS);  // g w^T
      __syncthreads();
      // S + S^T in place: each pair by one thread (S(p, q) + S(q, p), the
      // order of addTransposed).
      for (int e = threadIdx.x; e < k * k; e += blockDim.x) {
        const int p = e / k, q = e % k;
        if (q <= p) {
          const T v = S[p * ldm + q] + S[q * ldm + p];
          S[p * ldm + q] = v;
          S[q * ldm + p] = v;
        }
      }
      __syncthreads();
      // Both products have the same m x n output and tileGemm gives each
      // output to the same thread both times, so the second adds to what
      // this thread stored, without a barrier between them.
      auto storeOut = [&](int p, int q, T val) { out[p * ldw + q] = val; };
      auto addOut = [&](int p, int q, T val) { out[p * ldw + q] += negBeta * val; };
      if (tall) {
        tileGemm<T>(m, n, k, g, ldw, 1, M, ldm, 1, storeOut);  // g M
        tileGemm<T>(m, n, k, w, ldw, 1, S, ldm, 1, addOut);    // - beta w S
      } else {
        tileGemm<T>(m, n, m, M, ldm, 1, g, ldw, 1, storeOut);  // M g
        tileGemm<T>(m, n, m, S, ldm, 1, w, ldw, 1, addOut);    // - beta S w
      }
      __syncthreads();
      swapBuffers(g, out);
    }
    storeTile(g, ldw, dX, b);
    __syncthreads();  // shared memory is reloaded for the next matrix
  }
}

static int bjorckThreads(int64_t m, int64_t n) {
  const int64_t k = std::min(m, n);
  return tileBlockThreads(std::max(tileGemmTiles(k, k), tileGemmTiles(m, n)), kBjorckMaxBlock);
}

template <typename T>
void launchBjorckFused(int64_t batch, Mat<const T> X, Mat<T> Y, int steps, T beta, T* const* saves,
                       T* const* grams, cudaStream_t stream) {
  const int64_t m = X.rows, n = X.cols;
  const int threads = bjorckThreads(m, n);
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(batch, kMaxBlocks));
  // Without saves every step runs in one launch; with them, kBjorckPtrs
  // steps per launch. steps == 0 still copies X to Y.
  const int chunk = saves ? kBjorckPtrs : std::max(steps, 1);
  int first = 0;
  do {
    const int last = std::min(steps, first + chunk);
    StepPtrs<T> p{}, gp{};
    if (saves)
      for (int s = first; s < last; ++s) {
        p.p[s - first] = s > 0 ? saves[s] : nullptr;
        gp.p[s - first] = grams ? grams[s] : nullptr;
      }
    bjorck_fused_kernel<T><<<blocks, threads, bjorckSmem<T>(m, n), stream>>>(batch, X, Y, first, last, beta,
                                                                             saves != nullptr, p, gp);
    ORTHO_CUDA_CHECK_LAUNCH("bjorck_fused_kernel");
    first = last;
  } while (first < steps);
}

template <typename T>
void launchBjorckBackwardFused(int64_t batch, const T* const* ws, const T* const* ms, int steps, Mat<const T> G,
                               Mat<T> dX, T beta, cudaStream_t stream) {
  const int64_t m = G.rows, n = G.cols;
  const int threads = bjorckThreads(m, n);
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(batch, kMaxBlocks));
  int last = steps;
  do {
    const int first = std::max(0, last - kBjorckPtrs);
    StepPtrs<const T> p{}, mp{};
    for (int s = first; s < last; ++s) {
      p.p[s - first] = ws[s];
      mp.p[s - first] = ms[s];
    }
    bjorck_backward_fused_kernel<T><<<blocks, threads, bjorckBackwardSmem<T>(m, n), stream>>>(
        batch, G, dX, last == steps, first, last, beta, p, mp);
    ORTHO_CUDA_CHECK_LAUNCH("bjorck_backward_fused_kernel");
    last = first;
  } while (last > 0);
}

template bool bjorckFusedFits<float>(int64_t, int64_t);
template bool bjorckFusedFits<double>(int64_t, int64_t);
template bool bjorckBackwardFusedFits<float>(int64_t, int64_t);
template bool bjorckBackwardFusedFits<double>(int64_t, int64_t);
template void launchBjorckFused<float>(int64_t, Mat<const float>, Mat<float>, int, float, float* const*,
                                       float* const*, cudaStream_t);
template void launchBjorckFused<double>(int64_t, Mat<const double>, Mat<double>, int, double, double* const*,
                                        double* const*, cudaStream_t);
template void launchBjorckBackwardFused<float>(int64_t, const float* const*, const float* const*, int,
                                               Mat<const float>, Mat<float>, float, cudaStream_t);
template void launchBjorckBackwardFused<double>(int64_t, const double* const*, const double* const*, int,
                                                Mat<const double>, Mat<double>, double, cudaStream_t);

}  // namespace ortho::cuda
