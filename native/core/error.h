// Typed errors of the native core. Every recoverable failure is thrown as an
// OrthoError carrying a stable code; native/napi/ turns it into a JS error in
// one place (errors.cpp). Never abort on input.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace ortho {

/// Which JS constructor the error maps to.
enum class ErrorKind { Error, TypeError, RangeError };

/// Stable error codes (also listed in lib/errors.ts and README.md).
namespace code {
inline constexpr const char* kShape = "ERR_ORTHO_SHAPE";
inline constexpr const char* kDtype = "ERR_ORTHO_DTYPE";
inline constexpr const char* kDevice = "ERR_ORTHO_DEVICE";
inline constexpr const char* kNonFinite = "ERR_ORTHO_NON_FINITE";
inline constexpr const char* kNotPositiveDefinite = "ERR_ORTHO_NOT_POSITIVE_DEFINITE";
inline constexpr const char* kRankDeficient = "ERR_ORTHO_RANK_DEFICIENT";
inline constexpr const char* kDisposed = "ERR_ORTHO_DISPOSED";
inline constexpr const char* kNoGrad = "ERR_ORTHO_NO_GRAD";
inline constexpr const char* kInvalidArg = "ERR_ORTHO_INVALID_ARG";
inline constexpr const char* kOutOfMemory = "ERR_ORTHO_OUT_OF_MEMORY";
inline constexpr const char* kCuda = "ERR_ORTHO_CUDA";
inline constexpr const char* kInternal = "ERR_ORTHO_INTERNAL";
}  // namespace code

/// The one exception type the core throws for anything a caller can cause.
class OrthoError : public std::runtime_error {
 public:
  OrthoError(const char* code, ErrorKind kind, const std::string& message)
      : std::runtime_error(message), code_(code), kind_(kind) {}
  const char* code() const noexcept { return code_; }
  ErrorKind kind() const noexcept { return kind_; }

 private:
  const char* code_;
  ErrorKind kind_;
};

namespace detail {
inline void appendAll(std::ostringstream&) {}
template <typename A, typename... Rest>
void appendAll(std::ostringstream& os, const A& a, const Rest&... rest) {
  os << a;
  appendAll(os, rest...);
}
}  // namespace detail

/// Throws an OrthoError. One definition per shared object: core/error.cpp
/// in the addon; a CPU kernel library forwards it to the addon's (the
/// exception is then thrown, typed and caught all in one binary).
[[noreturn]] void throwError(const char* code, ErrorKind kind, const std::string& message);

/// Builds a message from pieces and throws an OrthoError.
template <typename... Parts>
[[noreturn]] void fail(const char* code, ErrorKind kind, const Parts&... parts) {
  std::ostringstream os;
  detail::appendAll(os, parts...);
  throwError(code, kind, os.str());
}

}  // namespace ortho
