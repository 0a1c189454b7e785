// What the CPU kernel files share: Eigen views of the batched row-major
// matrices and the rules that split a batched call over the thread pool.
// Compiled once per CPU level (see kernels.h): nothing here may be used by
// the addon's level-independent code.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#define EIGEN_DONT_PARALLELIZE  // parallelism comes from our pool, not OpenMP
#include <Eigen/Core>

#include "../../core/backend.h"
#include "../../core/parallel.h"
#include "small_kernels.h"

namespace ortho::cpu {

using Eigen::Dynamic;
using Eigen::Index;
using Eigen::OuterStride;

template <typename T>
using RowMat = Eigen::Matrix<T, Dynamic, Dynamic, Eigen::RowMajor>;
template <typename T>
using ColMat = Eigen::Matrix<T, Dynamic, Dynamic, Eigen::ColMajor>;
template <typename T>
using MapM = Eigen::Map<RowMat<T>, Eigen::Unaligned, OuterStride<>>;
template <typename T>
using CMapM = Eigen::Map<const RowMat<T>, Eigen::Unaligned, OuterStride<>>;

/// Matrix b of a batch, as an Eigen map.
template <typename T>
MapM<T> view(const Mat<T>& m, int64_t b) {
  return MapM<T>(m.data + b * m.stride, m.rows, m.cols, OuterStride<>(m.ld));
}
template <typename T>
CMapM<T> cview(const Mat<const T>& m, int64_t b) {
  return CMapM<T>(m.data + b * m.stride, m.rows, m.cols, OuterStride<>(m.ld));
}

/// Work below this many flops (per loop) runs on the calling thread only.
inline constexpr double kParallelFlops = 2.0e5;
/// A factorization of at least this many flops splits its blocked updates
/// over the threads when the batch alone cannot keep them busy.
inline constexpr double kInnerParallelFlops = 2.0e7;
/// Panel width of the blocked Householder QR (Eigen's own choice).
inline constexpr Index kQrBlock = 48;
/// Elements per chunk of a long reduction or scaling (groupDot, groupScale).
inline constexpr int64_t kReduceChunk = int64_t(1) << 16;

/// How `batch` matrices of `flopsEach` flops are cut into tasks: whole
/// matrices when the batch alone keeps every thread busy, else `parts`
/// slices of each matrix.
struct Split {
  int64_t parts = 1;
  int64_t grain = 1;  // tasks per chunk
};
inline Split splitWork(int64_t batch, double flopsEach, int64_t maxParts) {
  Split s;
  const int threads = cpuThreads();
  if (batch < threads && flopsEach * batch >= 8 * kParallelFlops && maxParts > 1)
    s.parts = std::min<int64_t>(maxParts, 2 * threads);
  double perTask = flopsEach / s.parts;
  s.grain = std::max<int64_t>(1, static_cast<int64_t>(kParallelFlops / std::max(perTask, 1.0)));
  return s;
}

/// Boundaries for splitting n rows into `parts` ranges.
inline int64_t cut(int64_t n, int64_t parts, int64_t k) { return n * k / parts; }

/// Runs fn(b) for every matrix, in parallel when the total is large.
template <typename Fn>
void forEachMatrix(int64_t batch, double workEach, Fn&& fn) {
  parallelFor(batch, std::max<int64_t>(1, int64_t(4 * kParallelFlops / std::max(workEach, 1.0))),
              [&](int64_t b0, int64_t b1) {
                for (int64_t b = b0; b < b1; ++b) fn(b);
              });
}

/// Runs fn(t, group, k0, k1) for chunk t = group * C + c (C chunks per
/// group) of G contiguous groups of S elements: elements [k0, k1) of the
/// group, chunks of kReduceChunk elements (the last one shorter), in
/// parallel. The chunks depend on S only.
template <typename Fn>
void forEachChunk(int64_t G, int64_t S, Fn&& fn) {
  const int64_t C = (S + kReduceChunk - 1) / kReduceChunk;
  parallelFor(G * C, std::max<int64_t>(1, int64_t(kParallelFlops / std::min(S, kReduceChunk))),
              [&](int64_t t0, int64_t t1) {
                for (int64_t t = t0; t < t1; ++t) {
                  const int64_t i = t / C, k0 = (t % C) * kReduceChunk;
                  fn(t, i, k0, std::min(S, k0 + kReduceChunk));
                }
              });
}

/// Sum of x[k] y[k] in double, in eight interleaved partial sums (a single
/// running sum is a dependency chain the compiler may not reorder, so it
/// would neither vectorize nor pipeline), added pairwise at the end.
template <typename T>
double dot(const T* x, const T* y, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int l = 0; l < 8; ++l) acc[l] += double(x[k + l]) * double(y[k + l]);
  for (int l = 0; k < n; ++k, ++l) acc[l] += double(x[k]) * double(y[k]);
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/// The lower triangle of every matrix copied onto its upper triangle.
template <typename T>
void mirrorLowerBatch(int64_t batch, Mat<T> A) {
  forEachMatrix(batch, double(A.rows) * A.cols, [&](int64_t b) { mirrorLower(A.rows, A.data + b * A.stride, A.ld); });
}

}  // namespace ortho::cpu
