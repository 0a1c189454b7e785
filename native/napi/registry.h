// Per-environment state of the addon: constructors and the live handles,
// so that the env cleanup hook can release native memory when a worker
// thread or the main environment shuts down before the GC has run.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <unordered_map>

namespace ortho {
class TensorImpl;
namespace ops {
class Module;
}
}  // namespace ortho

namespace ortho::napi {

struct Registry {
  Napi::FunctionReference tensorCtor;
  Napi::FunctionReference moduleCtor;
  /// release callbacks of live handles, keyed by handle address
  std::unordered_map<const void*, std::function<void()>> live;
  bool closed = false;  ///< the environment is shutting down
  /// The native object that TensorHandle::Wrap / ModuleHandle::CreateChain
  /// hands to the JS constructor they call; null otherwise. Why here and not
  /// in a static: each environment (the main thread, every worker thread)
  /// runs its JS on its own thread, so a process-wide slot would let two
  /// workers constructing at once take each other's object. An environment
  /// runs one call at a time, and the constructor runs synchronously inside
  /// the New() call that set the slot.
  std::shared_ptr<TensorImpl>* pendingTensor = nullptr;
  std::shared_ptr<ops::Module>* pendingModule = nullptr;

  static std::shared_ptr<Registry> of(Napi::Env env);
};

}  // namespace ortho::napi
