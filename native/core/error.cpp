#include "error.h"

namespace ortho {

void throwError(const char* code, ErrorKind kind, const std::string& message) { throw OrthoError(code, kind, message); }

}  // namespace ortho
