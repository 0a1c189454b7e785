// Optional fused kernels. An op whose algorithm (or a stretch of it) runs
// faster as one kernel on some backend declares the interface of that kernel
// beside it (ops/<op>_kernels.h: a struct template over the element type
// with a unique kName and virtual entries that return false, doing nothing,
// for shapes they do not handle). A backend that implements it hands it out
// from Primitives<T>::fusedKernels(kName); the op asks through fused<K>()
// below and, where the answer is null or an entry declines, runs its own
// sequence of primitives, written once in the op. Same math; rounding may
// differ.
//
// ORTHO_FUSED=0 (read once, by fusedKernelsEnabled() in core/backend.h)
// turns every backend's fused kernels off: the ops then run their plain
// sequences, which is what lets the tests compare the two at one shape.
#pragma once

#include "../core/backend.h"

namespace ortho::ops {

/// The backend's implementation of the fused-kernel interface K for T, or
/// null where it has none or ORTHO_FUSED=0.
template <typename K, typename T>
K* fused(Primitives<T>& p) {
  if (!fusedKernelsEnabled()) return nullptr;
  return static_cast<K*>(p.fusedKernels(K::kName));
}

}  // namespace ortho::ops
