// Internal benchmark hooks (see bench_hooks.cpp).
#pragma once

#include <napi.h>

namespace ortho::napi {

/// Adds the benchmark-only functions (benchBackendGemm) to the exports.
void registerBenchHooks(Napi::Env env, Napi::Object exports);

}  // namespace ortho::napi
