#include "module_registry.h"

#include "common.h"

namespace ortho::ops {

namespace {
// Function-local, so that registrations from any file's static
// initialization find it constructed.
std::vector<ModuleKind>& registry() {
  static std::vector<ModuleKind> kinds;
  return kinds;
}
}  // namespace

const Options::Value& Options::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) fail(code::kInternal, ErrorKind::Error, "option '", name, "' was not read");
  return it->second;
}

const std::vector<Option>& commonOptions() {
  static const std::vector<Option> common = {Option::flag("requiresGrad", false)};
  return common;
}

RegisterModule::RegisterModule(ModuleKind k) { registry().push_back(std::move(k)); }

const std::vector<ModuleKind>& moduleKinds() { return registry(); }

const ModuleKind& moduleKind(const std::string& kind) {
  for (const ModuleKind& k : registry())
    if (k.kind == kind) return k;
  fail(code::kInvalidArg, ErrorKind::TypeError, "unknown module kind '", kind, "'");
}

Precision parsePrecision(const std::string& text) {
  if (text == "fp32") return Precision::Fp32;
  if (text == "tf32") return Precision::Tf32;
  if (text == "bf16") return Precision::Bf16;
  fail(code::kInvalidArg, ErrorKind::RangeError, "precision must be 'fp32', 'tf32' or 'bf16', got '", text, "'");
}

ModulePtr makeModule(const std::string& kind, const Shape& weightShape, const Options& o) {
  return moduleKind(kind).make(weightShape, o);
}

}  // namespace ortho::ops
