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

#include <cstddef>
#include <cstdint>
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

/// The arithmetic of a float32 matrix product (the `precision` option of the
/// iterative ops). Tf32: inputs rounded to TF32 (10-bit mantissa), products
/// summed in float32, as tensor cores do; Bf16: inputs rounded to bfloat16
/// (7-bit mantissa), summed in float32. Outputs are float32 either way.
enum class Precision { Fp32, Tf32, Bf16 };

/// Scalar formulas applied element-wise to per-group scalar vectors:
/// out[i] = f(a[i], b[i], p). `b` may be null where f does not read it.
enum class ScalarFn {
  InvSqrtPlus,  ///< 1 / (sqrt(a) + p)
  InvPlus,      ///< 1 / (a + p)
  Sqrt,         ///< sqrt(a)
  Sign,         ///< 1 where a > 0, -1 where a < 0, else 0 (NaN too)
  Mul,          ///< p * a * b
  DivOrZero,    ///< b != 0 ? a / b : 0
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
  /// gemm() and syrk() computed in reduced precision `p` (see Precision).
  /// False, with nothing done, where the backend has no such arithmetic for
  /// T (the default: the CPU, and float64 everywhere); the caller then runs
  /// the full-precision primitive. syrkReduced writes both triangles of C
  /// and leaves it exactly symmetric, as syrk() does.
  virtual bool gemmReduced(Precision p, int64_t batch, T alpha, Mat<const T> A, Op opA, Mat<const T> B, Op opB,
                           T beta, Mat<T> C) {
    return false;
  }
  virtual bool syrkReduced(Precision p, int64_t batch, T alpha, Mat<const T> A, Op opA, T beta, Mat<T> C) {
    return false;
  }
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

  /// out[g] = sum over group g of x * y (y may equal x). x, y dense.
  virtual void groupDot(const GroupLayout& layout, const T* x, const T* y, T* out) = 0;
  /// out = a[g] * x (+ b[g] * y when y is not null), per element of group g.
  /// out may equal x or y.
  virtual void groupScale(const GroupLayout& layout, const T* a, const T* x, const T* b, const T* y,
                          T* out) = 0;
  /// out[i] = f(a[i], b[i], p) for i < n (see ScalarFn). out may equal a or b.
  virtual void scalarMap(int64_t n, ScalarFn f, const T* a, const T* b, T p, T* out) = 0;
  /// Number of NaN or infinite entries among n contiguous values. Synchronizes.
  virtual int64_t countNonFinite(int64_t n, const T* x) = 0;

  /// The backend's implementation of an op's fused-kernel interface (see
  /// ops/fused.h) named `name`, for T; null where it has none (the
  /// default). Ops ask through ops::fused<K>(), which applies ORTHO_FUSED.
  virtual void* fusedKernels(const char* name) { return nullptr; }
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

/// False when ORTHO_FUSED=0 (read once): every backend's fused kernels off
/// (ops/fused.h), and the CUDA backend's batched GEMM-only QR with them.
bool fusedKernelsEnabled();

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
