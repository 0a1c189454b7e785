#include "shape.h"

#include <sstream>

namespace ortho {

std::string shapeStr(const Shape& s) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

void checkShape(const Shape& s, const char* what) {
  int64_t total = 1;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] <= 0)
      fail(code::kShape, ErrorKind::RangeError, what, " must have positive dimensions, got ", shapeStr(s),
           " (dimension ", i, " is ", s[i], ")");
    if (s[i] > kMaxElements / total)
      fail(code::kShape, ErrorKind::RangeError, what, " ", shapeStr(s), " has more than 2^40 elements");
    total *= s[i];
  }
}

void checkMatrixShape(const Shape& s, const char* what) {
  if (s.size() < 2)
    fail(code::kShape, ErrorKind::RangeError, what, " must have rank >= 2 ([...batch, m, n]), got ", shapeStr(s));
  checkShape(s, what);
  if (s[s.size() - 1] > kMaxDim || s[s.size() - 2] > kMaxDim)
    fail(code::kShape, ErrorKind::RangeError, what, " ", shapeStr(s), " has a matrix dimension over 2^31-1");
}

MatrixDims MatrixDims::of(const Shape& s) {
  MatrixDims d;
  d.m = s[s.size() - 2];
  d.n = s[s.size() - 1];
  for (std::size_t i = 0; i + 2 < s.size(); ++i) d.batch *= s[i];
  return d;
}

}  // namespace ortho
