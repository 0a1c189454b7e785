// Fake cuBLAS / cuSOLVER (host memory, column-major, LAPACK conventions) for
// the emulation harness. Built twice: -DFAKE_CUBLAS and -DFAKE_CUSOLVER.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>
typedef int st;  // status
#define INVALID 7
static int invalidLine = 0;
#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "fake lib: %s failed (%s:%d)\n", #c, __func__, __LINE__); invalidLine = __LINE__; return INVALID; } } while (0)


#ifdef FAKE_CUBLAS
extern "C" st cublasCreate_v2(void** h) { *h = (void*)1; return 0; }
extern "C" st cublasDestroy_v2(void*) { return 0; }
extern "C" st cublasSetStream_v2(void*, void*) { return 0; }
extern "C" st cublasSetMathMode(void*, int m) { REQUIRE(m == 0 || m == 2); return 0; }
extern "C" st cublasSetPointerMode_v2(void*, int m) { REQUIRE(m == 0); return 0; }
extern "C" st cublasGetProperty(int t, int* v) { *v = t == 0 ? 13 : t == 1 ? 0 : 9; return 0; }

template <typename T>
static st gemmSB(int ta, int tb, int m, int n, int k, const T* alpha, const T* A, int lda, long long sA, const T* B, int ldb,
                 long long sB, const T* beta, T* C, int ldc, long long sC, int batch) {
  REQUIRE(m > 0 && n > 0 && k > 0 && batch > 0);
  REQUIRE(lda >= std::max(1, ta ? k : m));
  REQUIRE(ldb >= std::max(1, tb ? n : k));
  REQUIRE(ldc >= std::max(1, m));
  for (int b = 0; b < batch; ++b) {
    const T* a = A + b * sA; const T* bb = B + b * sB; T* c = C + b * sC;
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        T s = 0;
        for (int p = 0; p < k; ++p) s += (ta ? a[p + (long)i * lda] : a[i + (long)p * lda]) * (tb ? bb[j + (long)p * ldb] : bb[p + (long)j * ldb]);
        T& out = c[i + (long)j * ldc];
        out = *beta == T(0) ? *alpha * s : *alpha * s + *beta * out;
      }
  }
  return 0;
}
extern "C" st cublasSgemmStridedBatched(void*, int ta, int tb, int m, int n, int k, const float* al, const float* A, int lda, long long sA, const float* B, int ldb, long long sB, const float* be, float* C, int ldc, long long sC, int batch) { return gemmSB(ta, tb, m, n, k, al, A, lda, sA, B, ldb, sB, be, C, ldc, sC, batch); }
extern "C" st cublasDgemmStridedBatched(void*, int ta, int tb, int m, int n, int k, const double* al, const double* A, int lda, long long sA, const double* B, int ldb, long long sB, const double* be, double* C, int ldc, long long sC, int batch) { return gemmSB(ta, tb, m, n, k, al, A, lda, sA, B, ldb, sB, be, C, ldc, sC, batch); }

// cublasGemmStridedBatchedEx with float32 C and float32 sums. Operands are
// float32 (type 0 = CUDA_R_32F) or bfloat16 (14 = CUDA_R_16BF, raw bits:
// widened exactly), the same type for both. Compute type 68 (32F) uses them
// as they are; 77 (32F_FAST_TF32, float32 operands) rounds them to TF32's
// 10 mantissa bits, to nearest even. What the tensor cores do in their sums
// may differ in the last bits; the rounding of the operands, which is what
// a reduced-precision iteration has to absorb, is the same size.
static float roundMantissa(float x, int bits) {
  if (bits >= 23 || !std::isfinite(x)) return x;
  uint32_t u; std::memcpy(&u, &x, 4);
  const int drop = 23 - bits;
  u = (u + ((1u << (drop - 1)) - 1) + ((u >> drop) & 1)) >> drop << drop;
  std::memcpy(&x, &u, 4);
  return x;
}
extern "C" st cublasGemmStridedBatchedEx(void*, int ta, int tb, int m, int n, int k, const void* al, const void* A, int at, int lda, long long sA,
                                         const void* B, int bt, int ldb, long long sB, const void* be, void* C, int ct, int ldc, long long sC,
                                         int batch, int compute, int algo) {
  REQUIRE(at == bt && (at == 0 || at == 14) && ct == 0 && algo == -1);
  REQUIRE(compute == 68 || (compute == 77 && at == 0));
  REQUIRE(m > 0 && n > 0 && k > 0 && batch > 0);
  const int bits = compute == 77 ? 10 : 23;
  // Float copies of each operand's columns (what gemmSB reads), rounded or widened.
  auto widened = [&](const void* X, int rows, int cols, int ld, long long stride) {
    const long long per = (long long)ld * (cols - 1) + rows;
    std::vector<float> out((size_t)(stride * (batch - 1) + per));
    for (int b = 0; b < batch; ++b)
      for (int j = 0; j < cols; ++j)
        for (int i = 0; i < rows; ++i) {
          const size_t idx = b * stride + (long long)j * ld + i;
          if (at == 14) { const uint32_t u = uint32_t(static_cast<const uint16_t*>(X)[idx]) << 16; std::memcpy(&out[idx], &u, 4); }
          else out[idx] = roundMantissa(static_cast<const float*>(X)[idx], bits);
        }
    return out;
  };
  const std::vector<float> a = widened(A, ta ? k : m, ta ? m : k, lda, sA);
  const std::vector<float> b = widened(B, tb ? n : k, tb ? k : n, ldb, sB);
  return gemmSB(ta, tb, m, n, k, static_cast<const float*>(al), a.data(), lda, sA, b.data(), ldb, sB, static_cast<const float*>(be),
                static_cast<float*>(C), ldc, sC, batch);
}

// side 0 = LEFT: op(A) X = alpha B; 1 = RIGHT: X op(A) = alpha B. uplo 0 = lower.
template <typename T>
static st trsm1(int side, int uplo, int trans, int diag, int m, int n, const T* alpha, const T* A, int lda, T* B, int ldb) {
  const int k = side == 0 ? m : n;
  REQUIRE(m > 0 && n > 0 && lda >= std::max(1, k) && ldb >= std::max(1, m));
  std::vector<T> M((size_t)k * k, T(0));  // dense op(A), row i col j at M[i*k+j]
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) {
      bool inTri = uplo == 0 ? i >= j : i <= j;
      T v = inTri ? A[i + (long)j * lda] : T(0);
      if (i == j && diag == 1) v = 1;
      if (trans) M[(size_t)j * k + i] = v; else M[(size_t)i * k + j] = v;
    }
  bool lower = (uplo == 0) != (trans != 0);
  auto solve = [&](std::vector<T>& x) {  // M x = x, M triangular
    if (lower) for (int i = 0; i < k; ++i) { T s = x[i]; for (int j = 0; j < i; ++j) s -= M[(size_t)i * k + j] * x[j]; x[i] = s / M[(size_t)i * k + i]; }
    else for (int i = k - 1; i >= 0; --i) { T s = x[i]; for (int j = i + 1; j < k; ++j) s -= M[(size_t)i * k + j] * x[j]; x[i] = s / M[(size_t)i * k + i]; }
  };
  if (side == 0) {
    for (int c = 0; c < n; ++c) { std::vector<T> x(k); for (int i = 0; i < k; ++i) x[i] = *alpha * B[i + (long)c * ldb]; solve(x); for (int i = 0; i < k; ++i) B[i + (long)c * ldb] = x[i]; }
  } else {
    // X M = alpha B  <=>  M^T X^T = alpha B^T: transpose M and flip triangularity.
    std::vector<T> Mt((size_t)k * k); for (int i = 0; i < k; ++i) for (int j = 0; j < k; ++j) Mt[(size_t)i * k + j] = M[(size_t)j * k + i];
    M.swap(Mt); lower = !lower;
    for (int r = 0; r < m; ++r) { std::vector<T> x(k); for (int j = 0; j < k; ++j) x[j] = *alpha * B[r + (long)j * ldb]; solve(x); for (int j = 0; j < k; ++j) B[r + (long)j * ldb] = x[j]; }
  }
  return 0;
}
extern "C" st cublasStrsm_v2(void*, int s, int u, int t, int d, int m, int n, const float* al, const float* A, int lda, float* B, int ldb) { return trsm1(s, u, t, d, m, n, al, A, lda, B, ldb); }
extern "C" st cublasDtrsm_v2(void*, int s, int u, int t, int d, int m, int n, const double* al, const double* A, int lda, double* B, int ldb) { return trsm1(s, u, t, d, m, n, al, A, lda, B, ldb); }
extern "C" st cublasStrsmBatched(void*, int s, int u, int t, int d, int m, int n, const float* al, const float* const* A, int lda, float* const* B, int ldb, int batch) { for (int b = 0; b < batch; ++b) { st r = trsm1(s, u, t, d, m, n, al, A[b], lda, B[b], ldb); if (r) return r; } return 0; }
extern "C" st cublasDtrsmBatched(void*, int s, int u, int t, int d, int m, int n, const double* al, const double* const* A, int lda, double* const* B, int ldb, int batch) { for (int b = 0; b < batch; ++b) { st r = trsm1(s, u, t, d, m, n, al, A[b], lda, B[b], ldb); if (r) return r; } return 0; }
#endif

template <typename T>
static void householder(int m, int n, T* A, int lda, T* tau) {
  Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> a(m, n);
  for (int i = 0; i < m; ++i) for (int j = 0; j < n; ++j) a(i, j) = A[i + (long)j * lda];
  Eigen::HouseholderQR<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>> qr(a);
  for (int i = 0; i < m; ++i) for (int j = 0; j < n; ++j) A[i + (long)j * lda] = qr.matrixQR()(i, j);
  for (int j = 0; j < std::min(m, n); ++j) tau[j] = qr.hCoeffs()(j);
}

#ifdef FAKE_CUBLAS
template <typename T>
static st geqrfB(int m, int n, T* const* A, int lda, T* const* tau, int* info, int batch) {
  *info = 0;
  REQUIRE(m >= n && lda >= std::max(1, m));
  for (int b = 0; b < batch; ++b) householder(m, n, A[b], lda, tau[b]);
  return 0;
}
extern "C" st cublasSgeqrfBatched(void*, int m, int n, float* const* A, int lda, float* const* t, int* info, int b) { return geqrfB(m, n, A, lda, t, info, b); }
extern "C" st cublasDgeqrfBatched(void*, int m, int n, double* const* A, int lda, double* const* t, int* info, int b) { return geqrfB(m, n, A, lda, t, info, b); }
#endif

#ifdef FAKE_CUSOLVER
extern "C" st cusolverDnCreate(void** h) { *h = (void*)1; return 0; }
extern "C" st cusolverDnDestroy(void*) { return 0; }
extern "C" st cusolverDnSetStream(void*, void*) { return 0; }
extern "C" st cusolverGetProperty(int t, int* v) { *v = t == 0 ? 12 : t == 1 ? 0 : 4; return 0; }
#undef INVALID
#define INVALID 3

template <typename T>
static st potrf1(int uplo, int n, T* A, int lda, int* info) {
  REQUIRE(n > 0 && lda >= n);
  *info = 0;
  // uplo 1 (UPPER): A = U^T U from the upper triangle; 0: A = L L^T from the lower.
  auto a = [&](int i, int j) -> T& { return uplo == 1 ? A[j + (long)i * lda] : A[i + (long)j * lda]; };  // lower view
  for (int j = 0; j < n; ++j) {
    T d = a(j, j);
    for (int p = 0; p < j; ++p) d -= a(j, p) * a(j, p);
    if (!(d > T(0))) { *info = j + 1; return 0; }
    d = std::sqrt(d);
    a(j, j) = d;
    for (int i = j + 1; i < n; ++i) { T s = a(i, j); for (int p = 0; p < j; ++p) s -= a(i, p) * a(j, p); a(i, j) = s / d; }
  }
  return 0;
}
extern "C" st cusolverDnSpotrf_bufferSize(void*, int, int, float*, int, int* lw) { *lw = 3; return 0; }
extern "C" st cusolverDnDpotrf_bufferSize(void*, int, int, double*, int, int* lw) { *lw = 3; return 0; }
extern "C" st cusolverDnSpotrf(void*, int u, int n, float* A, int lda, float*, int lw, int* info) { REQUIRE(lw >= 3); return potrf1(u, n, A, lda, info); }
extern "C" st cusolverDnDpotrf(void*, int u, int n, double* A, int lda, double*, int lw, int* info) { REQUIRE(lw >= 3); return potrf1(u, n, A, lda, info); }
extern "C" st cusolverDnSpotrfBatched(void*, int u, int n, float** A, int lda, int* info, int b) { for (int i = 0; i < b; ++i) { st r = potrf1(u, n, A[i], lda, info + i); if (r) return r; } return 0; }
extern "C" st cusolverDnDpotrfBatched(void*, int u, int n, double** A, int lda, int* info, int b) { for (int i = 0; i < b; ++i) { st r = potrf1(u, n, A[i], lda, info + i); if (r) return r; } return 0; }

// cusolverDnXgeqrf (64-bit generic API): data type 0 = CUDA_R_32F, 1 = CUDA_R_64F,
// the same for A, tau and the computation. The fake asks for 16 bytes of device
// workspace and none on the host, and checks that what it gets is at least that.
extern "C" st cusolverDnCreateParams(void** p) { *p = (void*)2; return 0; }
extern "C" st cusolverDnXgeqrf_bufferSize(void*, void* params, long m, long n, int ta, const void*, long lda, int tt, const void*, int tc, size_t* dev, size_t* host) {
  REQUIRE(params != nullptr && m >= 1 && n >= 1 && lda >= m && (ta == 0 || ta == 1) && tt == ta && tc == ta);
  *dev = 16; *host = 0; return 0;
}
extern "C" st cusolverDnXgeqrf(void*, void* params, long m, long n, int ta, void* A, long lda, int tt, void* tau, int tc, void* dwork, size_t dbytes, void*, size_t, int* info) {
  REQUIRE(params != nullptr && m >= 1 && n >= 1 && lda >= m && (ta == 0 || ta == 1) && tt == ta && tc == ta);
  REQUIRE(dwork != nullptr && dbytes >= 16);
  if (ta == 0) householder((int)m, (int)n, static_cast<float*>(A), (int)lda, static_cast<float*>(tau));
  else householder((int)m, (int)n, static_cast<double*>(A), (int)lda, static_cast<double*>(tau));
  *info = 0; return 0;
}
template <typename T>
static st orgqr1(int m, int n, int k, T* A, int lda, const T* tau) {
  REQUIRE(m >= n && n >= k && lda >= m);
  std::vector<T> Q((size_t)m * n, T(0));
  for (int j = 0; j < n; ++j) Q[j + (size_t)j * m] = 1;
  for (int i = k - 1; i >= 0; --i) {
    std::vector<T> v(m, T(0)); v[i] = 1; for (int r = i + 1; r < m; ++r) v[r] = A[r + (long)i * lda];
    for (int c = 0; c < n; ++c) { T s = 0; for (int r = 0; r < m; ++r) s += v[r] * Q[r + (size_t)c * m]; for (int r = 0; r < m; ++r) Q[r + (size_t)c * m] -= tau[i] * v[r] * s; }
  }
  for (int r = 0; r < m; ++r) for (int c = 0; c < n; ++c) A[r + (long)c * lda] = Q[r + (size_t)c * m];
  return 0;
}
extern "C" st cusolverDnSorgqr_bufferSize(void*, int, int, int, const float*, int, const float*, int* lw) { *lw = 2; return 0; }
extern "C" st cusolverDnDorgqr_bufferSize(void*, int, int, int, const double*, int, const double*, int* lw) { *lw = 2; return 0; }
extern "C" st cusolverDnSorgqr(void*, int m, int n, int k, float* A, int lda, const float* tau, float*, int lw, int* info) { REQUIRE(lw >= 2); *info = 0; return orgqr1(m, n, k, A, lda, tau); }
extern "C" st cusolverDnDorgqr(void*, int m, int n, int k, double* A, int lda, const double* tau, double*, int lw, int* info) { REQUIRE(lw >= 2); *info = 0; return orgqr1(m, n, k, A, lda, tau); }

template <typename T>
static st svd1(int m, int n, T* A, int lda, T* S, bool ascending) {
  REQUIRE(m >= 1 && n >= 1 && lda >= m);
  Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> a(m, n);
  for (int i = 0; i < m; ++i) for (int j = 0; j < n; ++j) a(i, j) = A[i + (long)j * lda];
  Eigen::JacobiSVD<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>> svd(a);
  int k = std::min(m, n);
  for (int i = 0; i < k; ++i) S[i] = svd.singularValues()(ascending ? k - 1 - i : i);
  for (int i = 0; i < m; ++i) for (int j = 0; j < n; ++j) A[i + (long)j * lda] = std::nan("");  // destroyed, as documented
  return 0;
}
extern "C" st cusolverDnSgesvd_bufferSize(void*, int, int, int* lw) { *lw = 2; return 0; }
extern "C" st cusolverDnDgesvd_bufferSize(void*, int, int, int* lw) { *lw = 2; return 0; }
extern "C" st cusolverDnSgesvd(void*, signed char ju, signed char jv, int m, int n, float* A, int lda, float* S, float*, int, float*, int, float*, int lw, float*, int* info) { REQUIRE(ju == 'N' && jv == 'N' && m >= n && lw >= 2); *info = 0; return svd1(m, n, A, lda, S, false); }
extern "C" st cusolverDnDgesvd(void*, signed char ju, signed char jv, int m, int n, double* A, int lda, double* S, double*, int, double*, int, double*, int lw, double*, int* info) { REQUIRE(ju == 'N' && jv == 'N' && m >= n && lw >= 2); *info = 0; return svd1(m, n, A, lda, S, false); }
extern "C" st cusolverDnCreateGesvdjInfo(void** p) { *p = (void*)2; return 0; }
extern "C" st cusolverDnDestroyGesvdjInfo(void*) { return 0; }
extern "C" st cusolverDnSgesvdjBatched_bufferSize(void*, int, int m, int n, const float*, int lda, const float*, const float*, int, const float*, int, int* lw, void*, int) { REQUIRE(m <= 32 && n <= 32 && lda == m); *lw = 2; return 0; }
extern "C" st cusolverDnDgesvdjBatched_bufferSize(void*, int, int m, int n, const double*, int lda, const double*, const double*, int, const double*, int, int* lw, void*, int) { REQUIRE(m <= 32 && n <= 32 && lda == m); *lw = 2; return 0; }
template <typename T>
static st gesvdjB(int jobz, int m, int n, T* A, int lda, T* S, T* U, int ldu, T* V, int ldv, int lw, int* info, int batch) {
  REQUIRE(jobz == 0 && m <= 32 && n <= 32 && lda == m && lw >= 2 && U && V && ldu >= m && ldv >= n);
  int k = std::min(m, n);
  for (int b = 0; b < batch; ++b) { st r = svd1(m, n, A + (long)b * m * n, lda, S + (long)b * k, true); info[b] = 0; if (r) return r; }
  return 0;
}
extern "C" st cusolverDnSgesvdjBatched(void*, int jz, int m, int n, float* A, int lda, float* S, float* U, int ldu, float* V, int ldv, float*, int lw, int* info, void*, int b) { return gesvdjB(jz, m, n, A, lda, S, U, ldu, V, ldv, lw, info, b); }
extern "C" st cusolverDnDgesvdjBatched(void*, int jz, int m, int n, double* A, int lda, double* S, double* U, int ldu, double* V, int ldv, double*, int lw, int* info, void*, int b) { return gesvdjB(jz, m, n, A, lda, S, U, ldu, V, ldv, lw, info, b); }
#endif
