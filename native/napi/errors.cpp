#include "errors.h"

#include <new>
#include <stdexcept>

namespace ortho::napi {

void rethrowInto(CapturedError& out) noexcept {
  out.set = true;
  try {
    throw;
  } catch (const OrthoError& e) {
    out.code = e.code();
    out.kind = e.kind();
    out.message = e.what();
  } catch (const std::bad_alloc&) {
    out.code = code::kOutOfMemory;
    out.kind = ErrorKind::Error;
    out.message = "out of memory";
  } catch (const std::exception& e) {
    out.code = code::kInternal;
    out.kind = ErrorKind::Error;
    out.message = std::string("internal error: ") + e.what();
  } catch (...) {
    out.code = code::kInternal;
    out.kind = ErrorKind::Error;
    out.message = "internal error: unknown exception";
  }
}

Napi::Error makeError(Napi::Env env, const char* code, ErrorKind kind, const std::string& message) {
  Napi::Error err = kind == ErrorKind::TypeError    ? Napi::TypeError::New(env, message)
                    : kind == ErrorKind::RangeError ? Napi::RangeError::New(env, message)
                                                    : Napi::Error::New(env, message);
  err.Value().Set("code", Napi::String::New(env, code));
  return err;
}

Napi::Error makeError(Napi::Env env, const CapturedError& e) { return makeError(env, e.code.c_str(), e.kind, e.message); }

}  // namespace ortho::napi
