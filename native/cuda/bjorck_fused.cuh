// Björck steps for one small matrix per block, in shared memory:
//   forward (fusedBjorck): w <- w ((1 + beta) I - beta w^T w) (m >= n) or
//     w <- ((1 + beta) I - beta w w^T) w (m < n), `steps` times, X -> Y
//     (dense), optionally saving each step's input and folded Gram for the
//     backward;
//   backward (fusedBjorckBackward): the VJP of those steps, from the saved
//     inputs and Grams, G -> dX.
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
/// True when an m x n matrix of T fits the forward kernel (shared memory).
template <typename T>
bool bjorckFusedFits(int64_t m, int64_t n);
/// saves, grams: null, or host arrays of `steps` device pointers (saves[0]
/// unused; grams only with saves; null entries are not saved).
template <typename T>
void launchBjorckFused(int64_t batch, Mat<const T> X, Mat<T> Y, int steps, T beta, T* const* saves,
                       T* const* grams, cudaStream_t stream);
/// True when an m x n matrix of T fits the backward kernel.
template <typename T>
bool bjorckBackwardFusedFits(int64_t m, int64_t n);
/// ws, ms: host arrays of `steps` device pointers (the inputs of the steps
/// and their folded Grams).
template <typename T>
void launchBjorckBackwardFused(int64_t batch, const T* const* ws, const T* const* ms, int steps, Mat<const T> G,
                               Mat<T> dX, T beta, cudaStream_t stream);
}  // namespace ortho::cuda
