// Element types. Only float32 and float64 are computed on.
#pragma once

#include <cstddef>
#include <string>

#include "error.h"

namespace ortho {

enum class DType { Float32, Float64 };

inline std::size_t dtypeSize(DType d) { return d == DType::Float32 ? 4 : 8; }

inline const char* dtypeName(DType d) { return d == DType::Float32 ? "float32" : "float64"; }

inline DType parseDtype(const std::string& s) {
  if (s == "float32") return DType::Float32;
  if (s == "float64") return DType::Float64;
  fail(code::kDtype, ErrorKind::TypeError, "dtype must be 'float32' or 'float64', got '", s, "'");
}

template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::Float32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::Float64;
};

/// Calls fn(T{}) with T = float or double according to d.
template <typename Fn>
decltype(auto) dispatchDtype(DType d, Fn&& fn) {
  if (d == DType::Float32) return fn(float{});
  return fn(double{});
}

}  // namespace ortho
