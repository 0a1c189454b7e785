// Per-environment state of the addon: constructors and the live handles,
// so that the env cleanup hook can release native memory when a worker
// thread or the main environment shuts down before the GC has run.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <unordered_map>

namespace ortho::napi {

struct Registry {
  Napi::FunctionReference tensorCtor;
  Napi::FunctionReference moduleCtor;
  /// release callbacks of live handles, keyed by handle address
  std::unordered_map<const void*, std::function<void()>> live;
  bool closed = false;  ///< the environment is shutting down

  static std::shared_ptr<Registry> of(Napi::Env env);
};

}  // namespace ortho::napi
