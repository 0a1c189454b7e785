// The module registry. Each op registers, where it is defined, its kind (the
// name the binding's NativeModule takes), its factory and its options: name,
// type and default. The N-API layer reads a module's options by its schema
// (napi/module_handle.cpp) and hands the defaults to the TypeScript classes
// (binding.moduleDefaults()), so that every default lives here, once.
//
//   const RegisterModule kBjorck{{"bjorck", true,
//                                 {Option::real("beta", 0.5), Option::integer("niters", 12)},
//                                 [](const Shape& s, const Options& o) -> ModulePtr { ... }}};
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "module.h"

namespace ortho::ops {

enum class OptionType {
  Bool,
  Int,
  Number,
  String,
  OptionalNumber,  ///< a number, or absent (undefined or null)
  Seed,            ///< a non-negative safe integer or a bigint, or absent
  Dims,            ///< an integer or an array of integers, or absent
};

/// One option of a module: its JS name, type and default (Bool, Int,
/// Number, String; the optional types have none).
struct Option {
  std::string name;
  OptionType type;
  double number = 0;  ///< Bool (0 or 1), Int and Number's default
  std::string text;  ///< String's default

  static Option flag(const char* name, bool def) { return {name, OptionType::Bool, def ? 1.0 : 0.0, {}}; }
  static Option integer(const char* name, int def) { return {name, OptionType::Int, double(def), {}}; }
  static Option real(const char* name, double def) { return {name, OptionType::Number, def, {}}; }
  static Option choice(const char* name, const char* def) { return {name, OptionType::String, 0, def}; }
  static Option optional(const char* name, OptionType type) { return {name, type, 0, {}}; }
};

/// A module's option values, read by its schema: every option with a
/// default holds a value; the optional ones only where given.
class Options {
 public:
  bool flag(const std::string& name) const { return get(name).number != 0; }
  int integer(const std::string& name) const { return static_cast<int>(get(name).number); }
  double number(const std::string& name) const { return get(name).number; }
  const std::string& text(const std::string& name) const { return get(name).text; }
  uint64_t seed(const std::string& name) const { return get(name).seed; }
  const std::vector<int>& list(const std::string& name) const { return get(name).list; }
  bool has(const std::string& name) const { return values_.count(name) != 0; }

  struct Value {
    double number = 0;
    std::string text;
    uint64_t seed = 0;
    std::vector<int> list;
  };
  void set(const std::string& name, Value v) { values_[name] = std::move(v); }

 private:
  const Value& get(const std::string& name) const;
  std::map<std::string, Value> values_;
};

struct ModuleKind {
  std::string kind;
  bool weightShape;  ///< built for one weight shape (false: L2Normalize, any shape)
  std::vector<Option> options;  ///< after the options every module takes (commonOptions())
  ModulePtr (*make)(const Shape& weightShape, const Options& o);
};

/// The options every module takes: requiresGrad.
const std::vector<Option>& commonOptions();

/// Registers a module kind (a namespace-scope object in the op's file).
struct RegisterModule {
  explicit RegisterModule(ModuleKind k);
};

/// Every registered kind, in registration order.
const std::vector<ModuleKind>& moduleKinds();
/// The kind named `kind`; throws ERR_ORTHO_INVALID_ARG for an unknown one.
const ModuleKind& moduleKind(const std::string& kind);
/// Builds a module of a registered kind; throws on bad options.
ModulePtr makeModule(const std::string& kind, const Shape& weightShape, const Options& o);

}  // namespace ortho::ops
