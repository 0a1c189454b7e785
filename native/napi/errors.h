// The one place where native failures become JS errors: every entry point
// runs its body through guard(), which maps OrthoError (and allocation or
// unexpected C++ failures) to a JS Error/TypeError/RangeError with `code`.
#pragma once

#include <napi.h>

#include <string>

#include "../core/error.h"

namespace ortho::napi {

/// A failure captured on a worker thread, turned into a JS error later on
/// the main thread.
struct CapturedError {
  bool set = false;
  std::string code, message;
  ErrorKind kind = ErrorKind::Error;
};

/// Runs fn() and records any exception into `out`; never throws.
template <typename Fn>
void capture(CapturedError& out, Fn&& fn) noexcept;

Napi::Error makeError(Napi::Env env, const char* code, ErrorKind kind, const std::string& message);
Napi::Error makeError(Napi::Env env, const CapturedError& e);

/// Records the exception being handled into `out` (call inside a catch).
void rethrowInto(CapturedError& out) noexcept;

/// Runs fn() (returning a Napi::Value) and converts C++ exceptions to JS.
template <typename Fn>
Napi::Value guard(Napi::Env env, Fn&& fn) {
  CapturedError err;
  Napi::Value result;
  try {
    result = fn();
  } catch (const Napi::Error&) {
    throw;  // already a JS error
  } catch (...) {
    rethrowInto(err);
  }
  if (err.set) throw makeError(env, err);
  return result;
}

template <typename Fn>
void capture(CapturedError& out, Fn&& fn) noexcept {
  try {
    fn();
  } catch (...) {
    rethrowInto(out);
  }
}

}  // namespace ortho::napi
