#include "check.h"

#include <cstring>

#include "../core/error.h"

namespace ortho::cuda {

void failCall(const char* stmt, const char* file, int line, const std::string& what) {
  // Name the call, not its whole argument list: "cublasSgemmStridedBatched(...)".
  std::string call(stmt);
  std::size_t paren = call.find('(');
  if (paren != std::string::npos && call.compare(0, 7, "launch ") != 0) {
    std::size_t start = call.find_last_of(".>", paren);  // drop "api." / "ctx->" qualifiers
    start = start == std::string::npos ? 0 : start + 1;
    call = call.substr(start, paren - start) + "(...)";
  }
  // Keep the path from native/ on (the build folder is no one's business).
  const char* rel = std::strstr(file, "native/");
  fail(code::kCuda, ErrorKind::Error, call, " failed: ", what, " (", rel ? rel : file, ":", line, ")");
}

}  // namespace ortho::cuda
