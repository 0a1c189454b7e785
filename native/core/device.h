// Device identifiers: "cpu" and "cuda:N".
#pragma once

#include <string>

#include "error.h"

namespace ortho {

struct Device {
  enum class Type { Cpu, Cuda };
  Type type = Type::Cpu;
  int index = 0;

  bool isCpu() const { return type == Type::Cpu; }
  bool operator==(const Device& o) const { return type == o.type && (isCpu() || index == o.index); }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const { return isCpu() ? std::string("cpu") : "cuda:" + std::to_string(index); }

  static Device cpu() { return Device{}; }
  static Device cuda(int i) { return Device{Type::Cuda, i}; }

  /// Parses "cpu", "cuda" (= "cuda:0") or "cuda:N".
  static Device parse(const std::string& s) {
    if (s == "cpu") return cpu();
    if (s == "cuda") return cuda(0);
    if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.size() < 9) {
      int idx = 0;
      for (std::size_t i = 5; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') goto bad;
        idx = idx * 10 + (s[i] - '0');
      }
      return cuda(idx);
    }
  bad:
    fail(code::kDevice, ErrorKind::TypeError, "device must be 'cpu', 'cuda' or 'cuda:N', got '", s, "'");
  }
};

}  // namespace ortho
