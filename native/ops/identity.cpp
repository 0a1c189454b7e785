// BatchedIdentity: the input itself as the output (tensors are immutable),
// and the gradient itself as the input's gradient.
#include "common.h"
#include "module_registry.h"

namespace ortho::ops {
namespace {

class Identity final : public OpModule {
 public:
  Identity(const Shape& weightShape, const Options& o) : OpModule(weightShape, o.flag("requiresGrad")) {}
  const char* name() const override { return "BatchedIdentity"; }

 protected:
  Pending forwardImpl(const TensorPtr& x, bool) override {
    return Pending{x, nullptr};  // tensors are immutable: the input itself is the output
  }
  TensorPtr backwardImpl(const TensorPtr& g) override { return g; }
  void dropContext() override {}
  std::vector<TensorPtr> savedTensors() override { return {}; }
};

}  // namespace

const RegisterModule kRegistered{
    {"identity", true, {}, [](const Shape& s, const Options& o) -> ModulePtr { return std::make_shared<Identity>(s, o); }}};

}  // namespace ortho::ops
