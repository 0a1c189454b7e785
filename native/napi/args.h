// Argument readers for the binding's entry points. Each names the argument
// in its error, since the binding can be called directly, bypassing the TS
// checks in lib/.
#pragma once

#include <napi.h>

#include <string>

#include "../core/device.h"
#include "../core/dtype.h"
#include "../core/shape.h"
#include "../core/tensor.h"

namespace ortho::napi {

Napi::Value arg(const Napi::CallbackInfo& info, std::size_t i);
Shape argShape(const Napi::CallbackInfo& info, std::size_t i, const char* name);
std::string argString(const Napi::CallbackInfo& info, std::size_t i, const char* name);
DType argDtype(const Napi::CallbackInfo& info, std::size_t i);
Device argDevice(const Napi::CallbackInfo& info, std::size_t i);
bool argBool(const Napi::CallbackInfo& info, std::size_t i, const char* name);
/// The live tensor behind a Tensor handle (throws ERR_ORTHO_DISPOSED).
TensorPtr argTensor(const Napi::CallbackInfo& info, std::size_t i, const char* name);

}  // namespace ortho::napi
