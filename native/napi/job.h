// One async worker base for every Promise-returning entry point. The work
// closure captures shared_ptrs to every native object it reads (tensors,
// modules), so neither dispose() nor the GC can free them mid-flight; it
// runs in Execute() on a libuv worker thread and never touches JS.
#pragma once

#include <napi.h>

#include <functional>

#include "../core/tensor.h"
#include "errors.h"
#include "tensor_handle.h"

namespace ortho::napi {

class TensorJob final : public Napi::AsyncWorker {
 public:
  /// Queues work() and returns the Promise of its tensor.
  static Napi::Value run(Napi::Env env, std::function<TensorPtr()> work) {
    auto* job = new TensorJob(env, std::move(work));
    Napi::Promise p = job->deferred_.Promise();
    job->Queue();  // the worker deletes itself after OnOK/OnError
    return p;
  }

 private:
  TensorJob(Napi::Env env, std::function<TensorPtr()> work)
      : Napi::AsyncWorker(env, "orthogonium"), work_(std::move(work)), deferred_(Napi::Promise::Deferred::New(env)) {}

  void Execute() override {
    capture(error_, [&] { result_ = work_(); });
    work_ = nullptr;  // drop captured inputs as soon as the work is done
  }

  void OnOK() override {
    Napi::Env env = Env();
    // Why every path is caught: during a worker's termination the env can
    // refuse new objects and even the rejection; an exception escaping here
    // would terminate the process.
    try {
      Napi::HandleScope scope(env);
      if (error_.set) {
        deferred_.Reject(makeError(env, error_).Value());
        return;
      }
      try {
        deferred_.Resolve(TensorHandle::Wrap(env, std::move(result_)));
      } catch (const Napi::Error& e) {
        deferred_.Reject(e.Value());
      } catch (...) {
        CapturedError err;
        rethrowInto(err);
        deferred_.Reject(makeError(env, err).Value());
      }
    } catch (...) {
      // the environment is going away: nobody is waiting for the promise
    }
  }

  void OnError(const Napi::Error& e) override {
    try {
      deferred_.Reject(e.Value());
    } catch (...) {
      // see OnOK
    }
  }

  std::function<TensorPtr()> work_;
  Napi::Promise::Deferred deferred_;
  TensorPtr result_;
  CapturedError error_;
};

}  // namespace ortho::napi
