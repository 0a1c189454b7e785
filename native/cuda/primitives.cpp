// The GPU primitive table.
//
// Row-major <-> column-major: a row-major r x c matrix with leading
// dimension ld is, byte for byte, the column-major c x r matrix (its
// transpose) with the same ld. So
//   - C = op(A) op(B) (row-major) is C^T = op(B)^T op(A)^T (column-major):
//     cuBLAS gets B first, A second, m and n swapped;
//   - a triangular solve op(A) X = B (row-major) is X^T op(A)^T = B^T: the
//     side flips, the triangle flips (row-major lower = column-major upper),
//     the transpose flag stays;
//   - the Cholesky factor: the symmetric input reads the same both ways;
//     factoring the column-major UPPER triangle (A = U^T U) leaves U in the
//     row-major lower triangle as L = U^T.
// QR is the one place where the data is transposed explicitly (cuSOLVER and
// cuBLAS factor column-major tall matrices).
#include "primitives.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "add_diagonal.cuh"
#include "add_transposed.cuh"
#include "axpby.cuh"
#include "bjorck_fused.cuh"
#include "cholesky_fused.cuh"
#include "exponential_fused.cuh"
#include "copy.cuh"
#include "count_non_finite.cuh"
#include "fill.cuh"
#include "group_dot.cuh"
#include "group_scale.cuh"
#include "pointer_array.cuh"
#include "power_iteration_fused.cuh"
#include "prim_timer.h"
#include "qr_unpack.cuh"
#include "qr_ut_matrix.cuh"
#include "scalar_map.cuh"
#include "sort_descending.cuh"
#include "to_bf16.cuh"
#include "triangle.cuh"

namespace ortho::cuda {
namespace {

using cudalib::Api;
using cudalib::cublasDiagType_t;
using cudalib::cublasFillMode_t;
using cudalib::cublasOperation_t;
using cudalib::cublasSideMode_t;
using cudalib::cusolverEigMode_t;

// The float and double entry points, with the names errors report.
template <typename T>
struct Lib;
#define ORTHO_ENTRY(field, symbol) \
  static constexpr auto field = &Api::symbol; \
  static constexpr const char* field##Name = #symbol "(...)";
template <>
struct Lib<float> {
  static constexpr cudaDataType dataType = CUDA_R_32F;  // for the cusolverDnX* calls
  ORTHO_ENTRY(gemm, cublasSgemmStridedBatched)
  ORTHO_ENTRY(trsm, cublasStrsm_v2)
  ORTHO_ENTRY(trsmBatched, cublasStrsmBatched)
  ORTHO_ENTRY(geqrfBatched, cublasSgeqrfBatched)
  ORTHO_ENTRY(potrfBatched, cusolverDnSpotrfBatched)
  ORTHO_ENTRY(potrfBufferSize, cusolverDnSpotrf_bufferSize)
  ORTHO_ENTRY(potrf, cusolverDnSpotrf)
  ORTHO_ENTRY(orgqrBufferSize, cusolverDnSorgqr_bufferSize)
  ORTHO_ENTRY(orgqr, cusolverDnSorgqr)
  ORTHO_ENTRY(gesvdBufferSize, cusolverDnSgesvd_bufferSize)
  ORTHO_ENTRY(gesvd, cusolverDnSgesvd)
  ORTHO_ENTRY(gesvdjBatchedBufferSize, cusolverDnSgesvdjBatched_bufferSize)
  ORTHO_ENTRY(gesvdjBatched, cusolverDnSgesvdjBatched)
};
template <>
struct Lib<double> {
  static constexpr cudaDataType dataType = CUDA_R_64F;
  ORTHO_ENTRY(gemm, cublasDgemmStridedBatched)
  ORTHO_ENTRY(trsm, cublasDtrsm_v2)
  ORTHO_ENTRY(trsmBatched, cublasDtrsmBatched)
  ORTHO_ENTRY(geqrfBatched, cublasDgeqrfBatched)
  ORTHO_ENTRY(potrfBatched, cusolverDnDpotrfBatched)
  ORTHO_ENTRY(potrfBufferSize, cusolverDnDpotrf_bufferSize)
  ORTHO_ENTRY(potrf, cusolverDnDpotrf)
  ORTHO_ENTRY(orgqrBufferSize, cusolverDnDorgqr_bufferSize)
  ORTHO_ENTRY(orgqr, cusolverDnDorgqr)
  ORTHO_ENTRY(gesvdBufferSize, cusolverDnDgesvd_bufferSize)
  ORTHO_ENTRY(gesvd, cusolverDnDgesvd)
  ORTHO_ENTRY(gesvdjBatchedBufferSize, cusolverDnDgesvdjBatched_bufferSize)
  ORTHO_ENTRY(gesvdjBatched, cusolverDnDgesvdjBatched)
};
#undef ORTHO_ENTRY

// Calls the typed entry point `fn` and checks its status, naming it.
#define ORTHO_BLAS(fn, ...) \
  ::ortho::cuda::checkBlas((ctx_.api->*Lib<T>::fn)(__VA_ARGS__), Lib<T>::fn##Name, __FILE__, __LINE__)
#define ORTHO_SOLVER(fn, ...) \
  ::ortho::cuda::checkSolver((ctx_.api->*Lib<T>::fn)(__VA_ARGS__), Lib<T>::fn##Name, __FILE__, __LINE__)

/// Most matrices per batched library call (grid-dimension limits of some
/// library versions); larger batches are issued in chunks.
constexpr int64_t kMaxBatchPerCall = 65535;

template <typename Fn>
void forChunks(int64_t batch, Fn&& fn) {
  for (int64_t b0 = 0; b0 < batch; b0 += kMaxBatchPerCall)
    fn(b0, static_cast<int>(std::min(kMaxBatchPerCall, batch - b0)));
}

cublasOperation_t toBlas(Op op) { return op == Op::N ? cublasOperation_t::N : cublasOperation_t::T; }
Op flip(Op op) { return op == Op::N ? Op::T : Op::N; }

int toInt(int64_t v) { return static_cast<int>(v); }  // dims and lds are < 2^31 (checked at the boundary)

// Below these sizes the batched triangular solve and Cholesky are used;
// above, a loop of the single-matrix calls (much faster for large n).
constexpr int64_t kLoopMaxBatch = 8;
constexpr int64_t kTrsmLoopMinN = 64;
constexpr int64_t kPotrfLoopMinN = 256;
// Batched Householder QR (cuBLAS geqrfBatched + GEMM-only Q) for small
// matrices in large batches, as PyTorch picks geqrfBatched.
constexpr int64_t kQrBatchedMaxM = 256;
// gesvdjBatched handles matrices up to 32 x 32.
constexpr int64_t kGesvdjBatchedMax = 32;

}  // namespace

template <typename T>
template <typename P>
void CudaPrimitives<T>::pointers(PoolBuffer& buf, int64_t count, P* base, int64_t stride) {
  launchPointerArray(count, base, stride * static_cast<int64_t>(sizeof(P)), buf.as<void*>(), ctx_.stream);
}

template <typename T>
void CudaPrimitives<T>::gemm(int64_t batch, T alpha, Mat<const T> A, Op opA, Mat<const T> B, Op opB, T beta,
                             Mat<T> C) {
  ctx_.activate();
  PrimTimer timer(ctx_, "gemm");
  const int64_t M = C.rows, N = C.cols, K = opA == Op::N ? A.cols : A.rows;
  forChunks(batch, [&](int64_t b0, int count) {
    ORTHO_BLAS(gemm, ctx_.blas, toBlas(opB), toBlas(opA), toInt(N), toInt(M), toInt(K), &alpha, B.data + b0 * B.stride,
               toInt(B.ld), B.stride, A.data + b0 * A.stride, toInt(A.ld), A.stride, &beta, C.data + b0 * C.stride,
               toInt(C.ld), C.stride, count);
  });
}

template <typename T>
void CudaPrimitives<T>::syrk(int64_t batch, T alpha, Mat<const T> A, Op opA, T beta, Mat<T> C) {
  ctx_.activate();
  PrimTimer timer(ctx_, "syrk");
  // A GEMM of A with itself, then the lower triangle mirrored so C is
  // exactly symmetric (as the contract and the CPU backend give).
  gemm(batch, alpha, A, opA, A, flip(opA), beta, C);
  launchTriangle(batch, C, TriOp::LowerToFull, ctx_.stream);
}

// Reduced precision, through cublasGemmStridedBatchedEx with float32
// accumulation on the tensor cores:
// - Tf32: float32 operands and the compute type FAST_TF32 (the library
//   rounds the operands to TF32 as it loads its tiles);
// - Bf16: the operands rounded to bfloat16 first (to_bf16.cu, dense copies
//   at half the bytes, one per distinct operand) and the compute type 32F.
//   Not the compute type FAST_16BF on float32 operands: that one allows the
//   library to pick TF32 instead, and 'bf16' is to mean bfloat16.
// float32 only (the tensor cores' float64 path is full precision).
template <typename T>
bool CudaPrimitives<T>::gemmReduced(Precision p, int64_t batch, T alpha, Mat<const T> A, Op opA, Mat<const T> B,
                                    Op opB, T beta, Mat<T> C) {
  if constexpr (!std::is_same<T, float>::value) {
    return false;
  } else {
    if (p == Precision::Fp32) return false;
    ctx_.activate();
    PrimTimer timer(ctx_, p == Precision::Tf32 ? "gemm tf32" : "gemm bf16");
    const int64_t M = C.rows, N = C.cols, K = opA == Op::N ? A.cols : A.rows;
    // What cuBLAS reads for an operand: its data, type, ld and batch stride.
    struct Operand {
      const void* data;
      cudaDataType type;
      int64_t ld, stride, elementBytes;
    };
    Operand a{A.data, CUDA_R_32F, A.ld, A.stride, 4}, b{B.data, CUDA_R_32F, B.ld, B.stride, 4};
    auto compute = cudalib::cublasComputeType_t::COMPUTE_32F_FAST_TF32;
    std::unique_ptr<PoolBuffer> bufA, bufB;
    if (p == Precision::Bf16) {
      compute = cudalib::cublasComputeType_t::COMPUTE_32F;
      auto toBf16 = [&](Mat<const float> X, std::unique_ptr<PoolBuffer>& buf) -> Operand {
        const int64_t count = X.stride == 0 ? 1 : batch;
        buf = std::make_unique<PoolBuffer>(*ctx_.alloc, static_cast<std::size_t>(count * X.rows * X.cols) * 2);
        launchToBf16(count, X, buf->as<uint16_t>(), ctx_.stream);
        return Operand{buf->as<uint16_t>(), CUDA_R_16BF, X.cols, X.stride == 0 ? 0 : X.rows * X.cols, 2};
      };
      a = toBf16(A, bufA);
      const bool same = B.data == A.data && B.rows == A.rows && B.cols == A.cols && B.ld == A.ld &&
                        B.stride == A.stride;  // A A^T or A^T A: one copy
      b = same ? a : toBf16(B, bufB);
    }
    const auto at = [](const Operand& o, int64_t b0) {
      return static_cast<const char*>(o.data) + b0 * o.stride * o.elementBytes;
    };
    forChunks(batch, [&](int64_t b0, int count) {
      ::ortho::cuda::checkBlas(
          ctx_.api->cublasGemmStridedBatchedEx(
              ctx_.blas, toBlas(opB), toBlas(opA), toInt(N), toInt(M), toInt(K), &alpha, at(b, b0), b.type, toInt(b.ld),
              b.stride, at(a, b0), a.type, toInt(a.ld), a.stride, &beta, C.data + b0 * C.stride, CUDA_R_32F,
              toInt(C.ld), C.stride, count, compute, cudalib::cublasGemmAlgo_t::DEFAULT),
          "cublasGemmStridedBatchedEx(...)", __FILE__, __LINE__);
    });
    return true;
  }
}

template <typename T>
bool CudaPrimitives<T>::syrkReduced(Precision p, int64_t batch, T alpha, Mat<const T> A, Op opA, T beta, Mat<T> C) {
  if (!gemmReduced(p, batch, alpha, A, opA, A, flip(opA), beta, C)) return false;
  launchTriangle(batch, C, TriOp::LowerToFull, ctx_.stream);  // exactly symmetric, as syrk()
  return true;
}

template <typename T>
void CudaPrimitives<T>::potrf(int64_t batch, Mat<T> A, int* info) {
  ctx_.activate();
  PrimTimer timer(ctx_, "potrf");
  const int n = toInt(A.rows), lda = toInt(A.ld);
  // S is symmetric, so the column-major view of the row-major S is S. The
  // factor is asked for in the column-major lower triangle (L L^T), which
  // the row-major array holds as L^T in its upper triangle, then moved down.
  // (Asking for the row-major lower factor directly means the column-major
  // UPPER fill, which cuSOLVER's potrf runs markedly slower, as reported by
  // users comparing both at 512^2 to 4096^2; PyTorch factors LOWER.)
  const auto lower = cublasFillMode_t::LOWER;
  PoolBuffer dinfo(*ctx_.alloc, static_cast<std::size_t>(batch) * sizeof(int));
  if (batch == 1 || (batch <= kLoopMaxBatch && A.rows >= kPotrfLoopMinN)) {
    int lwork = 0;
    ORTHO_SOLVER(potrfBufferSize, ctx_.solver, lower, n, A.data, lda, &lwork);
    PoolBuffer work(*ctx_.alloc, static_cast<std::size_t>(std::max(lwork, 1)) * sizeof(T));
    for (int64_t b = 0; b < batch; ++b)
      ORTHO_SOLVER(potrf, ctx_.solver, lower, n, A.data + b * A.stride, lda, work.as<T>(), lwork,
                   dinfo.as<int>() + b);
  } else {
    PoolBuffer ptrs(*ctx_.alloc, static_cast<std::size_t>(batch) * sizeof(T*));
    pointers(ptrs, batch, A.data, A.stride);
    forChunks(batch, [&](int64_t b0, int count) {
      ORTHO_SOLVER(potrfBatched, ctx_.solver, lower, n, ptrs.as<T*>() + b0, lda, dinfo.as<int>() + b0, count);
    });
  }
  launchUpperToLower(batch, A, ctx_.stream);
  launchNonFinitePivots(batch, Mat<const T>(A), dinfo.as<int>(), ctx_.stream);
  ORTHO_CUDA_CHECK(cudaMemcpyAsync(info, dinfo.as<int>(), static_cast<std::size_t>(batch) * sizeof(int),
                                   cudaMemcpyDeviceToHost, ctx_.stream));
  ORTHO_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
}

template <typename T>
void CudaPrimitives<T>::trsm(int64_t batch, Side side, Uplo uplo, Op opA, T alpha, Mat<const T> A, Mat<T> B) {
  ctx_.activate();
  PrimTimer timer(ctx_, "trsm");
  const auto cside = side == Side::Left ? cublasSideMode_t::RIGHT : cublasSideMode_t::LEFT;
  const auto cuplo = uplo == Uplo::Lower ? cublasFillMode_t::UPPER : cublasFillMode_t::LOWER;
  const auto ctrans = toBlas(opA);
  const auto diag = cublasDiagType_t::NON_UNIT;
  const int m = toInt(B.cols), n = toInt(B.rows), lda = toInt(A.ld), ldb = toInt(B.ld);
  if (batch <= kLoopMaxBatch && A.rows >= kTrsmLoopMinN) {
    for (int64_t b = 0; b < batch; ++b)
      ORTHO_BLAS(trsm, ctx_.blas, cside, cuplo, ctrans, diag, m, n, &alpha, A.data + b * A.stride, lda,
                 B.data + b * B.stride, ldb);
    return;
  }
  PoolBuffer aptrs(*ctx_.alloc, static_cast<std::size_t>(batch) * sizeof(T*));
  PoolBuffer bptrs(*ctx_.alloc, static_cast<std::size_t>(batch) * sizeof(T*));
  pointers(aptrs, batch, A.data, A.stride);
  pointers(bptrs, batch, B.data, B.stride);
  forChunks(batch, [&](int64_t b0, int count) {
    ORTHO_BLAS(trsmBatched, ctx_.blas, cside, cuplo, ctrans, diag, m, n, &alpha, aptrs.as<const T*>() + b0, lda,
               bptrs.as<T*>() + b0, ldb, count);
  });
}

template <typename T>
void CudaPrimitives<T>::qr(int64_t batch, Mat<const T> A, Op opA, Mat<T> Q, Mat<T> R) {
  ctx_.activate();
  PrimTimer timer(ctx_, "qr");
  const int64_t m = Q.rows, n = Q.cols;
  // F: each matrix as the row-major n x m op(A)^T, i.e. column-major m x n
  // op(A), read straight from A (a transposing copy, or a plain one when A
  // is the wide matrix whose transpose is factored).
  PoolBuffer F(*ctx_.alloc, static_cast<std::size_t>(batch * m * n) * sizeof(T));
  PoolBuffer tau(*ctx_.alloc, static_cast<std::size_t>(batch * n) * sizeof(T));
  launchCopy<T>(batch, A, opA == Op::N ? Op::T : Op::N, Mat<T>::dense(F.as<T>(), n, m), ctx_.stream);
  const bool batched = ctx_.fused && m <= kQrBatchedMaxM && batch >= std::max<int64_t>(2, m / 16);
  if (batched)
    qrBatched(batch, Q, R, F.as<T>(), tau.as<T>());
  else
    qrLooped(batch, Q, R, F.as<T>(), tau.as<T>());
}

// Householder QR of every matrix with cublas<t>geqrfBatched (LAPACK
// convention: H_i = I - tau_i v_i v_i^T, v_i(i) = 1 implicit, v_i below the
// diagonal), then Q formed for the whole batch with GEMMs (UT transform,
// Joffrain et al. 2006):
//   Q[:, :n] = I - V D (I + striu(V^T V) D)^{-1} V1^T,  D = diag(tau),
// V1 = top n x n block of V. No division by tau, so tau = 0 is fine.
template <typename T>
void CudaPrimitives<T>::qrBatched(int64_t batch, Mat<T> Q, Mat<T> R, T* F, T* tau) {
  const int64_t m = Q.rows, n = Q.cols;
  {
    PoolBuffer fptrs(*ctx_.alloc, static_cast<std::size_t>(batch) * sizeof(T*));
    PoolBuffer tptrs(*ctx_.alloc, static_cast<std::size_t>(batch) * sizeof(T*));
    pointers(fptrs, batch, F, m * n);
    pointers(tptrs, batch, tau, n);
    forChunks(batch, [&](int64_t b0, int count) {
      int hostInfo = 0;  // argument errors only (host int)
      PrimTimer timer(ctx_, "geqrfBatched");
      ORTHO_BLAS(geqrfBatched, ctx_.blas, toInt(m), toInt(n), fptrs.as<T*>() + b0, toInt(m), tptrs.as<T*>() + b0,
                 &hostInfo, count);
      if (hostInfo != 0)
        fail(code::kCuda, ErrorKind::Error, Lib<T>::geqrfBatchedName, " rejected argument ", -hostInfo, " (m = ", m,
             ", n = ", n, ")");
    });
  }
  Mat<T> Vt = Mat<T>::dense(F, n, m);  // becomes V^T (n x m), V unit lower m x n
  launchQrUnpack<T>(batch, Vt, R, ctx_.stream);
  PoolBuffer gbuf(*ctx_.alloc, static_cast<std::size_t>(batch * n * n) * sizeof(T));
  PoolBuffer zbuf(*ctx_.alloc, static_cast<std::size_t>(batch * n * n) * sizeof(T));
  Mat<T> G = Mat<T>::dense(gbuf.as<T>(), n, n), Z = Mat<T>::dense(zbuf.as<T>(), n, n);
  gemm(batch, T(1), Vt, Op::N, Vt, Op::T, T(0), G);            // G = V^T V
  launchQrUtMatrix<T>(batch, G, tau, ctx_.stream);              // G = U = I + striu(G) D, unit diagonal
  launchCopy<T>(batch, Vt.block(n, n), Op::N, Z, ctx_.stream);  // Z = V1^T
  trsm(batch, Side::Left, Uplo::Upper, Op::N, T(1), G, Z);      // Z = U^{-1} V1^T (diagonal exactly 1)
  GroupLayout rows = GroupLayout::perMatrix(batch * n, n);       // row i of matrix b is group b * n + i
  launchGroupScale<T>(makeGroupIndex(rows), batch * n * n, tau, Z.data, nullptr, nullptr, Z.data, ctx_.stream);
  launchFill<T>(batch, Q, T(0), ctx_.stream);                    // Q = I (m x n)
  launchAddDiagonal<T>(batch, Q, T(1), ctx_.stream);
  gemm(batch, T(-1), Vt, Op::T, Z, Op::N, T(1), Q);             // Q = I - V (D U^{-1} V1^T)
}

// One matrix at a time with cuSOLVER: geqrf, R read off, orgqr forms Q in
// place, transposed back into Q. geqrf is the 64-bit generic cusolverDnXgeqrf
// with default options, the call PyTorch makes for one large matrix (its
// USE_CUSOLVER_64_BIT builds); orgqr has only the typed form.
template <typename T>
void CudaPrimitives<T>::qrLooped(int64_t batch, Mat<T> Q, Mat<T> R, T* F, T* tau) {
  const int m = toInt(Q.rows), n = toInt(Q.cols);
  constexpr cudaDataType type = Lib<T>::dataType;
  const cudalib::Api& api = *ctx_.api;
  std::size_t geqrfDevice = 0, geqrfHost = 0;
  ORTHO_CUSOLVER_CHECK(api.cusolverDnXgeqrf_bufferSize(ctx_.solver, ctx_.solverParams, m, n, type, F, m, type, tau,
                                                       type, &geqrfDevice, &geqrfHost));
  int lorgqr = 0;
  ORTHO_SOLVER(orgqrBufferSize, ctx_.solver, m, n, n, F, m, tau, &lorgqr);
  const std::size_t workBytes = std::max({geqrfDevice, static_cast<std::size_t>(lorgqr) * sizeof(T), sizeof(T)});
  PoolBuffer work(*ctx_.alloc, workBytes);
  // Host workspace: read and written while the call is being issued, so it
  // only has to outlive the loop.
  std::vector<unsigned char> hostWork(std::max<std::size_t>(geqrfHost, 1));
  PoolBuffer dinfo(*ctx_.alloc, sizeof(int));
  const int64_t mn = int64_t(m) * n;
  {
    PrimTimer timer(ctx_, "geqrf");
    for (int64_t b = 0; b < batch; ++b)
      ORTHO_CUSOLVER_CHECK(api.cusolverDnXgeqrf(ctx_.solver, ctx_.solverParams, m, n, type, F + b * mn, m, type,
                                                tau + b * n, type, work.as<void>(), workBytes, hostWork.data(),
                                                geqrfHost, dinfo.as<int>()));
  }
  Mat<T> Fm = Mat<T>::dense(F, n, m);
  launchTransposeUpper<T>(batch, Mat<const T>(Fm.block(n, n)), R, ctx_.stream);  // R = triu(F[:, :n]^T)
  {
    PrimTimer timer(ctx_, "orgqr");
    for (int64_t b = 0; b < batch; ++b)  // the workspace holds at least lorgqr elements
      ORTHO_SOLVER(orgqr, ctx_.solver, m, n, n, F + b * mn, m, tau + b * n, work.as<T>(), std::max(lorgqr, 1),
                   dinfo.as<int>());
  }
  launchCopy<T>(batch, Fm, Op::T, Q, ctx_.stream);
}

template <typename T>
void CudaPrimitives<T>::singularValues(int64_t batch, Mat<const T> A, T* S) {
  ctx_.activate();
  PrimTimer timer(ctx_, "singularValues");
  const int64_t m = A.rows, n = A.cols, rows = std::max(m, n), cols = std::min(m, n), k = cols;
  // W: column-major rows x cols (rows >= cols, as cuSOLVER requires), i.e.
  // row-major cols x rows: A^T for tall A, A itself for wide A (same
  // singular values either way).
  PoolBuffer W(*ctx_.alloc, static_cast<std::size_t>(batch * rows * cols) * sizeof(T));
  launchCopy<T>(batch, A, m >= n ? Op::T : Op::N, Mat<T>::dense(W.as<T>(), cols, rows), ctx_.stream);
  const int r = toInt(rows), c = toInt(cols);
  if (batch > 1 && rows <= kGesvdjBatchedMax) {
    PoolBuffer U(*ctx_.alloc, static_cast<std::size_t>(batch * rows * rows) * sizeof(T));
    PoolBuffer V(*ctx_.alloc, static_cast<std::size_t>(batch * cols * cols) * sizeof(T));
    PoolBuffer dinfo(*ctx_.alloc, static_cast<std::size_t>(batch) * sizeof(int));
    cudalib::gesvdjInfo_t params = nullptr;
    ORTHO_CUSOLVER_CHECK(ctx_.api->cusolverDnCreateGesvdjInfo(&params));
    try {
      forChunks(batch, [&](int64_t b0, int count) {
        T* w = W.as<T>() + b0 * rows * cols;
        T* s = S + b0 * k;
        T* u = U.as<T>() + b0 * rows * rows;
        T* v = V.as<T>() + b0 * cols * cols;
        int lwork = 0;
        ORTHO_SOLVER(gesvdjBatchedBufferSize, ctx_.solver, cusolverEigMode_t::NOVECTOR, r, c, w, r, s, u, r, v, c,
                     &lwork, params, count);
        PoolBuffer work(*ctx_.alloc, static_cast<std::size_t>(std::max(lwork, 1)) * sizeof(T));
        ORTHO_SOLVER(gesvdjBatched, ctx_.solver, cusolverEigMode_t::NOVECTOR, r, c, w, r, s, u, r, v, c,
                     work.as<T>(), lwork, dinfo.as<int>() + b0, params, count);
      });
    } catch (...) {
      ctx_.api->cusolverDnDestroyGesvdjInfo(params);
      throw;
    }
    // Destroyed after the stream has drained past the calls that use it.
    ORTHO_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
    ORTHO_CUSOLVER_CHECK(ctx_.api->cusolverDnDestroyGesvdjInfo(params));
    // gesvdj may leave the values unsorted; the contract says descending.
    launchSortDescending<T>(batch, k, S, ctx_.stream);
    return;
  }
  int lwork = 0;
  ORTHO_SOLVER(gesvdBufferSize, ctx_.solver, r, c, &lwork);
  PoolBuffer work(*ctx_.alloc, static_cast<std::size_t>(std::max(lwork, 1)) * sizeof(T));
  PoolBuffer rwork(*ctx_.alloc, static_cast<std::size_t>(k) * sizeof(T));
  PoolBuffer dinfo(*ctx_.alloc, sizeof(int));
  for (int64_t b = 0; b < batch; ++b)
    ORTHO_SOLVER(gesvd, ctx_.solver, static_cast<signed char>('N'), static_cast<signed char>('N'), r, c,
                 W.as<T>() + b * rows * cols, r, S + b * k, nullptr, r, nullptr, c, work.as<T>(), lwork,
                 rwork.as<T>(), dinfo.as<int>());
}

template <typename T>
void CudaPrimitives<T>::copy(int64_t batch, Mat<const T> A, Op opA, Mat<T> B) {
  ctx_.activate();
  PrimTimer timer(ctx_, "copy");
  launchCopy<T>(batch, A, opA, B, ctx_.stream);
}

template <typename T>
void CudaPrimitives<T>::axpby(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B) {
  ctx_.activate();
  PrimTimer timer(ctx_, "axpby");
  launchAxpby<T>(batch, alpha, A, beta, B, ctx_.stream);
}

template <typename T>
void CudaPrimitives<T>::addTransposed(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B) {
  ctx_.activate();
  PrimTimer timer(ctx_, "addTransposed");
  launchAddTransposed<T>(batch, alpha, A, beta, B, ctx_.stream);
}

template <typename T>
void CudaPrimitives<T>::fill(int64_t batch, Mat<T> A, T value) {
  ctx_.activate();
  PrimTimer timer(ctx_, "fill");
  launchFill<T>(batch, A, value, ctx_.stream);
}

template <typename T>
void CudaPrimitives<T>::addDiagonal(int64_t batch, Mat<T> A, T value) {
  ctx_.activate();
  PrimTimer timer(ctx_, "addDiagonal");
  launchAddDiagonal<T>(batch, A, value, ctx_.stream);
}

template <typename T>
void CudaPrimitives<T>::triangle(int64_t batch, Mat<T> A, TriOp op) {
  ctx_.activate();
  PrimTimer timer(ctx_, "triangle");
  launchTriangle<T>(batch, A, op, ctx_.stream);
}

template <typename T>
void CudaPrimitives<T>::groupDot(const GroupLayout& layout, const T* x, const T* y, T* out) {
  ctx_.activate();
  PrimTimer timer(ctx_, "groupDot");
  const GroupIndex gi = makeGroupIndex(layout);
  const int64_t chunks = groupDotChunks(gi);
  PoolBuffer partials(*ctx_.alloc, chunks > 1 ? static_cast<std::size_t>(gi.groups * chunks) * sizeof(double) : 0);
  launchGroupDot<T>(gi, chunks, x, y, out, partials.as<double>(), ctx_.stream);
}

template <typename T>
void CudaPrimitives<T>::groupScale(const GroupLayout& layout, const T* a, const T* x, const T* b, const T* y, T* out) {
  ctx_.activate();
  PrimTimer timer(ctx_, "groupScale");
  launchGroupScale<T>(makeGroupIndex(layout), layout.numel(), a, x, b, y, out, ctx_.stream);
}

template <typename T>
void CudaPrimitives<T>::scalarMap(int64_t n, ScalarFn f, const T* a, const T* b, T p, T* out) {
  ctx_.activate();
  PrimTimer timer(ctx_, "scalarMap");
  launchScalarMap<T>(n, f, a, b, p, out, ctx_.stream);
}

template <typename T>
int64_t CudaPrimitives<T>::countNonFinite(int64_t n, const T* x) {
  ctx_.activate();
  PrimTimer timer(ctx_, "countNonFinite");
  PoolBuffer count(*ctx_.alloc, sizeof(unsigned long long));
  launchCountNonFinite<T>(n, x, count.as<unsigned long long>(), ctx_.stream);
  unsigned long long host = 0;
  ORTHO_CUDA_CHECK(
      cudaMemcpyAsync(&host, count.as<unsigned long long>(), sizeof host, cudaMemcpyDeviceToHost, ctx_.stream));
  ORTHO_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  return static_cast<int64_t>(host);
}

template <typename T>
bool CudaPrimitives<T>::fusedPowerIteration(int64_t batch, Mat<const T> X, T* u, T* v, int niter, T eps, T* coef,
                                            T* Y) {
  if (!powerIterationFusedFits(X.rows, X.cols)) return false;
  ctx_.activate();
  PrimTimer timer(ctx_, "fusedPowerIteration");
  launchPowerIterationFused<T>(batch, X, u, v, niter, eps, coef, Y, ctx_.stream);
  return true;
}

template <typename T>
bool CudaPrimitives<T>::fusedBjorck(int64_t batch, T beta, int steps, Mat<const T> X, Mat<T> Y, T* const* saves,
                                    T* const* grams) {
  if (!bjorckFusedFits<T>(X.rows, X.cols)) return false;
  ctx_.activate();
  PrimTimer timer(ctx_, "fusedBjorck");
  launchBjorckFused<T>(batch, X, Y, steps, beta, saves, grams, ctx_.stream);
  return true;
}

template <typename T>
bool CudaPrimitives<T>::fusedBjorckBackward(int64_t batch, T beta, int steps, const T* const* ws,
                                            const T* const* ms, Mat<const T> G, Mat<T> dX) {
  // The kernel reads the kept Grams (keepsGram is true here).
  if (steps <= 0 || !ms || !bjorckBackwardFusedFits<T>(G.rows, G.cols)) return false;
  ctx_.activate();
  PrimTimer timer(ctx_, "fusedBjorckBackward");
  launchBjorckBackwardFused<T>(batch, ws, ms, steps, G, dX, beta, ctx_.stream);
  return true;
}

template <typename T>
bool CudaPrimitives<T>::fusedCholesky(int64_t batch, Mat<const T> X, T shift, Mat<T> L, Mat<T> W, int* info) {
  if (!choleskyFusedFits<T>(X.rows, X.cols)) return false;
  ctx_.activate();
  PrimTimer timer(ctx_, "fusedCholesky");
  PoolBuffer dinfo(*ctx_.alloc, static_cast<std::size_t>(batch) * sizeof(int));
  launchCholeskyFused<T>(batch, X, shift, L, W, dinfo.as<int>(), ctx_.stream);
  ORTHO_CUDA_CHECK(cudaMemcpyAsync(info, dinfo.as<int>(), static_cast<std::size_t>(batch) * sizeof(int),
                                   cudaMemcpyDeviceToHost, ctx_.stream));
  ORTHO_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  return true;
}

template <typename T>
bool CudaPrimitives<T>::fusedCholeskyBackward(int64_t batch, Mat<const T> L, Mat<const T> W, Mat<const T> X,
                                              Mat<const T> G, Mat<T> dX) {
  if (!choleskyBackwardFusedFits<T>(G.rows, G.cols)) return false;
  ctx_.activate();
  PrimTimer timer(ctx_, "fusedCholeskyBackward");
  launchCholeskyBackwardFused<T>(batch, L, W, X, G, dX, ctx_.stream);
  return true;
}

template <typename T>
bool CudaPrimitives<T>::fusedExponential(int64_t batch, Mat<const T> X, Mat<T> Y, int K) {
  if (!exponentialFusedFits<T>(X.rows, X.cols)) return false;
  ctx_.activate();
  PrimTimer timer(ctx_, "fusedExponential");
  launchExponentialFused<T>(batch, X, Y, K, ctx_.stream);
  return true;
}

template <typename T>
void* CudaPrimitives<T>::fusedKernels(const char* name) {
  if (std::strcmp(name, ops::BjorckKernels<T>::kName) == 0) return static_cast<ops::BjorckKernels<T>*>(&bjorck_);
  if (std::strcmp(name, ops::PowerIterationKernels<T>::kName) == 0)
    return static_cast<ops::PowerIterationKernels<T>*>(&powerIteration_);
  if (std::strcmp(name, ops::CholeskyKernels<T>::kName) == 0) return static_cast<ops::CholeskyKernels<T>*>(&cholesky_);
  if (std::strcmp(name, ops::ExponentialKernels<T>::kName) == 0)
    return static_cast<ops::ExponentialKernels<T>*>(&exponential_);
  return nullptr;
}

template class CudaPrimitives<float>;
template class CudaPrimitives<double>;

}  // namespace ortho::cuda
