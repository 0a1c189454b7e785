#pragma once

#include "module.h"
#include "module_registry.h"

namespace ortho::ops {

class PowerIteration final : public OpModule {
 public:
  PowerIteration(const Shape& weightShape, const Options& o);
  const char* name() const override { return "BatchedPowerIteration"; }

  /// A copy of u (isU) or v; before any input, the initial state as float32
  /// on the CPU (or in the fixed dtype and device).
  TensorPtr getState(bool isU);
  /// Replaces u or v with l2n(value); fixes the state's dtype and device.
  void setState(bool isU, const TensorPtr& value);

 protected:
  void checkInput(const TensorPtr& x) override;
  Pending forwardImpl(const TensorPtr& x, bool record) override;
  TensorPtr backwardImpl(const TensorPtr& g) override;
  void dropContext() override;
  std::vector<TensorPtr> savedTensors() override;

 private:
  Shape stateShape(bool isU) const;
  TensorPtr initialState(bool isU, DType dtype, const Device& device) const;

  int niter_;
  double eps_;
  uint64_t seed_;
  TensorPtr u_, v_;  // null until the first input or assignment
  bool stateFixed_ = false;
  DType stateDtype_ = DType::Float32;
  Device stateDevice_;
  TensorPtr savedX_, savedU_, savedV_, savedCoef_;
};

}  // namespace ortho::ops
