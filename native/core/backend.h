// The Backend: a small table of batched primitives that every reparametrizer
// in native/ops/ is written against, once. A backend (cpu/, cuda/) implements
// the table for one device; ops never touch Eigen, cuBLAS or kernels directly.
//
// Conventions for every primitive:
// - Matrices are row-major. A Mat<T> is a batch of `rows x cols` matrices:
//   element (b, i, j) lives at data[b * stride + i * ld + j]; stride 0
//   broadcasts one matrix over the batch.
// - All pointers are on the backend's device ("all data is on this device"
//   is promised by the caller, checked at the N-API boundary).
// - `batch` is >= 1 and every dimension is >= 1 (empty tensors are rejected
//   before they reach a backend).
// - Primitives are enqueued in order on the device; results are visible to
//   later primitives of the same backend. Only the functions that return host
//   values (potrf info, countNonFinite) synchronize.
// - Outputs never alias inputs unless the contract says so.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "device.h"
#include "dtype.h"

namespace ortho {

/// A batch of row-major matrices (see the file comment).
template <typename T>
struct Mat {
  T* data = nullptr;
  int64_t rows = 0, cols = 0;
  int64_t ld = 0;      ///< distance between rows (>= cols)
  int64_t stride = 0;  ///< distance between matrices (0 broadcasts)

  /// Contiguous batch of rows x cols matrices.
  static Mat dense(T* p, int64_t r, int64_t c) { return Mat{p, r, c, c, r * c}; }
  /// The top-left r x c block of each matrix.
  Mat block(int64_t r, int64_t c) const { return Mat{data, r, c, ld, stride}; }
  operator Mat<const T>() const { return Mat<const T>{data, rows, cols, ld, stride}; }
};

enum class Op { N, T };              ///< use the matrix as is, or transposed
enum class Side { Left, Right };     ///< op(A) X = B, or X op(A) = B
enum class Uplo { Lower, Upper };    ///< which triangle of A holds the factor

/// In-place operations on the triangles of square matrices.
enum class TriOp {
  KeepLower,    ///< zero the strictly upper triangle (tril)
  LowerToFull,  ///< A = tril(A) + tril(A, -1)^T (mirror the lower triangle up)
};

/// Scalar formulas applied element-wise to per-group scalar vectors:
/// out[i] = f(a[i], b[i], p). `b` may be null where f does not read it.
enum class ScalarFn {
  InvSqrtPlus,  ///< 1 / (sqrt(a) + p)
  InvPlus,      ///< 1 / (a + p)
  Sqrt,         ///< sqrt(a)
  NegMulSq,     ///< -a * b * b
  L2nBackward,  ///< r = sqrt(b): r > 0 ? -a / (r * (r + p)^2) : 0
};

/// How a dense tensor splits into groups for grouped reductions. The tensor's
/// dims (merged where adjacent dims share a flag) carry `reduce` flags:
/// elements that differ only in reduced dims belong to one group. Groups are
/// numbered in row-major order of the kept dims.
struct GroupLayout {
  std::vector<int64_t> sizes;
  std::vector<bool> reduce;

  int64_t numel() const;
  int64_t groups() const;      ///< product of kept sizes
  int64_t groupSize() const;   ///< product of reduced sizes
  /// Shape `dims` reduced over the flagged entries of `reduceDims`; merges
  /// adjacent dims with the same flag.
  static GroupLayout make(const std::vector<int64_t>& dims, const std::vector<bool>& reduceDims);
  /// `batch` groups of `size` contiguous elements each.
  static GroupLayout perMatrix(int64_t batch, int64_t size);
  /// True when each group is one contiguous run ([groups, groupSize]).
  bool contiguousGroups() const;
};

/// One matrix's residual checks in the polar forward (ops/polar.cpp), where
/// the stall rule lives once: the plain sequence and a backend's fusedPolar
/// both feed it, so both stop alike.
struct PolarTrack {
  /// Checks without halving the residual before a matrix counts as
  /// stalled. The tail grows a singular value far below 1 by 1.875x per
  /// step while the residual barely moves: 12 steps lift it by three
  /// decades (inputs with sigma_min / sigma_max down to about lowerBound /
  /// 1000 still converge); an exact zero never moves.
  static constexpr int kStallChecks = 12;

  int checks = 0;       ///< checks made; the tail steps taken are checks - 1
  double first = 0;     ///< the residual at the first check (right after the schedule)
  double r = 0;         ///< the residual at the latest check
  double prev = std::numeric_limits<double>::infinity();  ///< the residual at the check before
  int noGain = 0;       ///< consecutive checks above tol that did not halve the residual
  bool stalled = false;

  /// Records the residual of the next check.
  void observe(double res, double tol) {
    if (checks++ == 0) first = res;
    r = res;
    if (!(res <= tol) && !stalled) {
      noGain = res > 0.5 * prev ? noGain + 1 : 0;
      if (noGain >= kStallChecks || !std::isfinite(res)) stalled = true;
    }
    prev = res;
  }
  /// At tol, or stalled: the batch may stop for this matrix.
  bool done(double tol) const { return r <= tol || stalled; }
};

/// What fusedPolar runs on each matrix (ops/polar.cpp has the method).
struct PolarPlan {
  const double* schedule = nullptr;  ///< (a, b, c) of each schedule step, 3 per step
  int scheduleSteps = 0;             ///< schedule steps before the first check
  const double* tail = nullptr;      ///< (a, b, c) of every tail step
  int maxIters = 0;                  ///< most steps, schedule and tail together
  double tol = 0;
  double safety = 1;                 ///< the scaling s = safety * ||A^2||_F^(1/8)
  int untilChecks = 1;               ///< no matrix stops before this many checks
};

/// The batched primitives for element type T (float or double).
template <typename T>
class Primitives {
 public:
  virtual ~Primitives() = default;

  /// C = alpha * op(A) op(B) + beta * C. With beta == 0, C is not read.
  virtual void gemm(int64_t batch, T alpha, Mat<const T> A, Op opA, Mat<const T> B, Op opB, T beta,
                    Mat<T> C) = 0;
  /// C = alpha * op(A) op(A)^T + beta * C, C square and symmetric; both
  /// triangles of C are written. op(A) = A gives A A^T, op(A) = T gives A^T A.
  virtual void syrk(int64_t batch, T alpha, Mat<const T> A, Op opA, T beta, Mat<T> C) = 0;
  /// In-place lower Cholesky A = L L^T of each symmetric positive definite A
  /// (both triangles hold A: a backend may read either);
  /// the strictly upper triangle is set to zero. info[b] (host, batch
  /// entries) is 0 on success, else the order of the leading minor that is
  /// not positive definite, or whose pivot is not finite (A overflowed
  /// the dtype: an infinite pivot passes LAPACK's test and silently zeroes
  /// the rows it divides). Synchronizes.
  virtual void potrf(int64_t batch, Mat<T> A, int* info) = 0;
  /// Triangular solve with non-unit diagonal, in place on B:
  /// Left: op(A) X = alpha B; Right: X op(A) = alpha B. A is square and only
  /// its `uplo` triangle is read.
  virtual void trsm(int64_t batch, Side side, Uplo uplo, Op opA, T alpha, Mat<const T> A, Mat<T> B) = 0;
  /// Reduced QR of each op(A), m x n with m >= n (Q's shape): Q receives
  /// the orthonormal factor (m x n) and R (n x n) the upper triangular one
  /// (its strictly lower triangle zeroed). No sign normalization. Q may be
  /// A itself when opA is Op::N; otherwise they must not overlap.
  virtual void qr(int64_t batch, Mat<const T> A, Op opA, Mat<T> Q, Mat<T> R) = 0;
  /// Singular values of each matrix, descending: S[b * k + i], k = min(m, n).
  virtual void singularValues(int64_t batch, Mat<const T> A, T* S) = 0;

  /// B = A (Op::N) or B = A^T (Op::T); shapes must match after op.
  virtual void copy(int64_t batch, Mat<const T> A, Op opA, Mat<T> B) = 0;
  /// B = alpha * A + beta * B (same shapes; B may equal A exactly).
  virtual void axpby(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B) = 0;
  /// B = alpha * A + beta * A^T for square A (B must not overlap A).
  virtual void addTransposed(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B) = 0;
  /// Every element of A set to value.
  virtual void fill(int64_t batch, Mat<T> A, T value) = 0;
  /// A(i, i) += value for i < min(rows, cols).
  virtual void addDiagonal(int64_t batch, Mat<T> A, T value) = 0;
  /// In-place triangle operation on square matrices.
  virtual void triangle(int64_t batch, Mat<T> A, TriOp op) = 0;
  /// QR sign fix: s_j = sign(R(j, j)) (sign(0) = 0); column j of Q and row j
  /// of R are multiplied by s_j. Q is m x n, R is n x n.
  virtual void qrSignFix(int64_t batch, Mat<T> Q, Mat<T> R) = 0;

  /// out[g] = sum over group g of x * y (y may equal x). x, y dense.
  virtual void groupDot(const GroupLayout& layout, const T* x, const T* y, T* out) = 0;
  /// out = a[g] * x (+ b[g] * y when y is not null), per element of group g.
  /// out may equal x or y.
  virtual void groupScale(const GroupLayout& layout, const T* a, const T* x, const T* b, const T* y,
                          T* out) = 0;
  /// out[i] = f(a[i], b[i], p) for i < n (see ScalarFn).
  virtual void scalarMap(int64_t n, ScalarFn f, const T* a, const T* b, T p, T* out) = 0;
  /// Number of NaN or infinite entries among n contiguous values. Synchronizes.
  virtual int64_t countNonFinite(int64_t n, const T* x) = 0;

  // Optional fused primitives: a backend may run a whole sequence of the
  // primitives above as one step for the shapes it handles well. Each
  // returns false, doing nothing, when it does not (the default); the caller
  // then runs the plain sequence. Same math, rounding may differ.

  /// Power-iteration forward: niter iterations of v = l2n(X^T u),
  /// u = l2n(X v) on u (batch x m) and v (batch x n) in place, then
  /// coef[b] = 1 / (u^T X v + eps) and Y = coef * X (Y dense, X's shape).
  virtual bool fusedPowerIteration(int64_t batch, Mat<const T> X, T* u, T* v, int niter, T eps, T* coef, T* Y) {
    return false;
  }
  /// Whether a recorded Björck step of an m x n matrix should keep its
  /// folded Gram for the backward (one product fewer per step there, one
  /// k x k matrix more per step in the context). The CPU declines where its
  /// small-matrix kernels recompute it in cache for less than the memory
  /// traffic of keeping it.
  virtual bool keepsBjorckGram(int64_t m, int64_t n) { return true; }
  /// `steps` Björck steps (ops/bjorck.cpp) from X into Y (dense, X's
  /// shape). With `saves` and `grams` (host arrays of `steps` device
  /// pointers, or null; grams only with saves), each non-null saves[s],
  /// 1 <= s < steps, receives the input of step s (dense, X's shape;
  /// saves[0] is unused: step 0's input is X) and each non-null grams[s],
  /// 0 <= s < steps, that step's folded Gram M' = (1 + beta) I - beta
  /// Gram(w) (dense, batch x k x k, k = min(rows, cols)): what
  /// fusedBjorckBackward needs.
  virtual bool fusedBjorck(int64_t batch, Mat<const T> X, Mat<T> Y, int steps, T beta, T* const* saves,
                           T* const* grams) {
    return false;
  }
  /// The backward of `steps` recorded Björck steps at once: ws and ms (host
  /// arrays of device pointers; ms null where no Gram was kept) hold the
  /// input of each step (dense, G's shape) and its folded Gram (dense,
  /// k x k); G, the gradient of the last
  /// step's output, is carried back through every step into dX (dense,
  /// G's shape, not overlapping G). The same math and order as the
  /// per-step VJP of ops/bjorck.cpp.
  virtual bool fusedBjorckBackward(int64_t batch, const T* const* ws, const T* const* ms, int steps, Mat<const T> G,
                                   Mat<T> dX, T beta) {
    return false;
  }
  /// Cholesky orthogonalization forward: L = chol(X X^T + shift I) (strict
  /// upper triangle zero; info as potrf, non-finite pivots included; host,
  /// synchronizes) and, where
  /// info[b] == 0, W = L^{-1} X.
  virtual bool fusedCholesky(int64_t batch, Mat<const T> X, T shift, Mat<T> L, Mat<T> W, int* info) { return false; }
  /// Cholesky orthogonalization backward (ops/cholesky.cpp) from the saved
  /// L and W: dX for the gradient G (dense, G's shape). With X.data
  /// non-null, the stable form (P L^{-1} applied to X instead of W).
  virtual bool fusedCholeskyBackward(int64_t batch, Mat<const T> L, Mat<const T> W, Mat<const T> X, Mat<const T> G,
                                     Mat<T> dX) {
    return false;
  }
  /// Exponential orthogonalization forward (ops/exponential.cpp): pad X to
  /// D x D, A = (P - P^T) / 2, the K-term series by Horner's rule, crop to
  /// Y (dense, X's shape). Saves nothing.
  virtual bool fusedExponential(int64_t batch, Mat<const T> X, Mat<T> Y, int K) { return false; }
  /// One Björck step per matrix, out = w ((1 + beta) I - beta w^T w) when
  /// rows >= cols, else ((1 + beta) I - beta w w^T) w. `gram` (k x k,
  /// k = min(rows, cols)) receives the folded Gram (1 + beta) I - beta
  /// w^T w (or w w^T), which the backward reuses; out must not overlap w.
  virtual bool fusedBjorckStep(int64_t batch, T beta, Mat<const T> w, Mat<T> gram, Mat<T> out) { return false; }
  /// The polar forward's steps (ops/polar.cpp) on `count` matrices, each
  /// on its own: matrix b = which[i] (i < count; which null: b = i).
  /// Its p x k iterate X (p >= k) is In(b), or In(b)^T when `transposed`;
  /// the result goes to Out(b) in the same orientation (Out may equal In
  /// exactly). With tracks[b].checks == 0, X is the input: it is scaled,
  /// runs plan.scheduleSteps schedule steps and gets its first check;
  /// otherwise X continues from an earlier call. Then tail steps, each
  /// followed by a check (tracks[b].observe with the residual
  /// ||X^T X - I||_F / sqrt(k), its squared norm rounded to T as groupDot
  /// returns it), until tracks[b].done(plan.tol) with tracks[b].checks at
  /// least plan.untilChecks and at least the checks any matrix of the call
  /// has stopped at so far, or until the steps reach plan.maxIters. (So no
  /// matrix runs past the first check where every matrix of the call is
  /// done.) A call with `which` continues matrices of an earlier call that
  /// ran, and never declines.
  virtual bool fusedPolar(int64_t count, const int64_t* which, Mat<const T> In, Mat<T> Out, bool transposed,
                          const PolarPlan& plan, PolarTrack* tracks) {
    return false;
  }
};

/// Owns device memory for one allocation; frees it (back to the backend's
/// cache) on destruction.
class Buffer;

/// One device: memory, copies, and the primitive tables for both dtypes.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  /// Raw allocation; throws ERR_ORTHO_OUT_OF_MEMORY. Never returns null for
  /// bytes > 0.
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* p, std::size_t bytes) noexcept = 0;

  /// Copies between host and this device, and within this device; a copy to
  /// the host completes before returning.
  virtual void copyToHost(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void copyFromHost(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void copyOnDevice(void* dst, const void* src, std::size_t bytes) = 0;
  /// Waits until all enqueued work is done; reports asynchronous failures.
  virtual void synchronize() = 0;

  /// Serializes whole operations on devices that need it (one stream per
  /// device); a no-op lock on the CPU.
  virtual std::unique_lock<std::mutex> lockForOperation() = 0;

  virtual Primitives<float>& f32() = 0;
  virtual Primitives<double>& f64() = 0;

  template <typename T>
  Primitives<T>& prims();
};

template <>
inline Primitives<float>& Backend::prims<float>() {
  return f32();
}
template <>
inline Primitives<double>& Backend::prims<double>() {
  return f64();
}

/// What backends() reports for one backend.
struct BackendInfo {
  std::string name;
  bool available = false;
  std::string reason;   ///< why it is not available (empty when available)
  int threads = 0;      ///< CPU worker threads (cpu only)
  int deviceCount = 0;  ///< GPUs (cuda only)
  std::vector<std::string> devices;  ///< device names (cuda only)
  std::string detail;   ///< library versions and the like
  std::string level;    ///< CPU kernels in use: "baseline", "v2", "v3", "v4" (x86-64), else the architecture
  std::vector<std::string> levels;    ///< CPU kernel levels this build holds
  std::string cpuLevel;  ///< the highest x86-64 level the CPU and OS support (x86-64 only)
  std::vector<std::string> features;  ///< the CPU's x86-64 level features, from CPUID (x86-64 only)
};

/// The backend for a device. CPU always exists; a CUDA device throws
/// ERR_ORTHO_DEVICE with the reason CUDA is unavailable.
Backend& backendFor(const Device& d);
std::vector<BackendInfo> listBackends();

/// The run-time loading of cuBLAS and cuSOLVER on its own, GPU or not: the
/// files loaded and the versions the libraries report, or why loading
/// failed. For tests and diagnostics; loading happens once per process.
struct CudaLibrariesInfo {
  bool built = false;  ///< the addon has the CUDA backend
  bool ok = false;
  std::string versions;  ///< "cuBLAS 13.1.1, cuSOLVER 12.0.4 (CUDA 13 libraries)"
  std::vector<std::string> files;  ///< in load order
  std::string reason;  ///< why not, when !ok
};

/// One CUDA device's memory as its caching allocator sees it (tests and
/// diagnostics), and as the driver reports it (cudaMemGetInfo: the whole
/// device, every process; 0 when the call fails).
struct CudaMemoryInfo {
  std::size_t liveBytes = 0;       ///< in blocks handed out (tensors, scratch)
  std::size_t cachedBytes = 0;     ///< in freed blocks kept for reuse
  std::size_t maxCachedBytes = 0;  ///< the cap on cachedBytes (ORTHO_CUDA_CACHE_MB)
  std::size_t deviceFreeBytes = 0;
  std::size_t deviceTotalBytes = 0;
};

/// Implemented by cuda/ when compiled with CUDA, else by core/no_cuda.cpp.
Backend& cudaBackend(int index);
/// Creates the device's backend when needed; throws as cudaBackend() does.
CudaMemoryInfo cudaMemory(int index);
BackendInfo cudaInfo();
CudaLibrariesInfo cudaLibraries();

}  // namespace ortho
