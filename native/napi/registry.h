// Per-environment state of the addon: constructors and the live handles,
// so that the env cleanup hook can release native memory when a worker
// thread or the main environment shuts down before the GC has run.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

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
  /// A live handle: the ObjectWrap's own weak reference to its JS object,
  /// and what frees its native memory (empty once it has run).
  struct LiveHandle {
    napi_ref ref;
    std::function<void()> release;
    bool queued = true;  ///< its key is in `unswept` (a key can be there twice: a handle at a reused address)
  };
  /// The live handles, keyed by handle address.
  std::unordered_map<const void*, LiveHandle> live;
  napi_env env = nullptr;
  /// Handles not yet released, as of the last sweep, then those added since
  /// (keys of handles destroyed meanwhile are dropped by the next sweep).
  std::vector<const void*> unswept;
  std::size_t keptBySweep = 0;

  /// Registers a handle (its constructor) and, every so many registrations,
  /// sweeps (see sweep()).
  void add(const void* key, napi_ref ref, std::function<void()> release);
  /// Releases the native memory of every handle whose JS object the GC has
  /// collected (its weak reference is empty) but whose finalizer has not run.
  /// Why: Node runs Node-API finalizers from the event loop, so a loop of
  /// synchronous calls that never yields to it would otherwise keep every
  /// tensor it left to the GC until it ends. The handle itself still goes in
  /// its finalizer; release is idempotent. Amortized O(1) per handle: a
  /// sweep visits the handles it kept last time and those added since, and
  /// runs once at least as many have been added as it kept (and 1024).
  void sweep();
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
