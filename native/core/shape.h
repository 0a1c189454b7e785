// Shapes of dense row-major tensors and the batched-matrix view of them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "error.h"

namespace ortho {

using Shape = std::vector<int64_t>;

/// Largest number of elements a tensor may hold (keeps byte counts and
/// 32-bit library dimensions safe).
inline constexpr int64_t kMaxElements = int64_t(1) << 40;
/// Largest matrix dimension handed to BLAS/LAPACK-style routines (int32).
inline constexpr int64_t kMaxDim = (int64_t(1) << 31) - 1;

std::string shapeStr(const Shape& s);
int64_t numel(const Shape& s);

/// Throws ERR_ORTHO_SHAPE unless every entry is a positive integer and the
/// product stays within kMaxElements. `what` names the argument.
void checkShape(const Shape& s, const char* what);

/// Throws ERR_ORTHO_SHAPE unless s has rank >= 2 (a batch of matrices).
void checkMatrixShape(const Shape& s, const char* what);

/// A shape [...batch, m, n] seen as `batch` matrices of m x n.
struct MatrixDims {
  int64_t batch = 1, m = 0, n = 0;
  static MatrixDims of(const Shape& s);
};

}  // namespace ortho
