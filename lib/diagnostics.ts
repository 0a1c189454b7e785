// Diagnostics: singular values, orthogonality error, available backends.
import { binding } from './native';
import { Tensor, handleOf, wrapNative } from './tensor';

/** Per-matrix singular values, descending: shape `[...batch, min(m, n)]`. */
export function singularValues(w: Tensor): Promise<Tensor> {
  try {
    return binding.singularValues(handleOf(w, 'w')).then(wrapNative);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Synchronous twin of singularValues(). */
export function singularValuesSync(w: Tensor): Tensor {
  return wrapNative(binding.singularValuesSync(handleOf(w, 'w')));
}

/**
 * Per-matrix ‖WᵀW − I‖_F (m ≥ n) or ‖WWᵀ − I‖_F (m < n): shape `[...batch]`
 * (`[]` for a single matrix).
 */
export function orthogonalityError(w: Tensor): Promise<Tensor> {
  try {
    return binding.orthogonalityError(handleOf(w, 'w')).then(wrapNative);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Synchronous twin of orthogonalityError(). */
export function orthogonalityErrorSync(w: Tensor): Tensor {
  return wrapNative(binding.orthogonalityErrorSync(handleOf(w, 'w')));
}

export interface BackendInfo {
  /** `'cpu'` or `'cuda'`. */
  name: string;
  available: boolean;
  /** Why the backend is unavailable. */
  reason?: string;
  /** CPU worker threads. */
  threads?: number;
  /** Number of CUDA devices. */
  deviceCount?: number;
  /** CUDA device names. */
  devices?: string[];
  /** Library versions and build details. */
  detail?: string;
  /**
   * CPU: the kernels in use, by x86-64 level (`'baseline'`, `'v2'`, `'v3'`
   * AVX2 + FMA, `'v4'` AVX-512), or the architecture's name elsewhere
   * (`'arm64'`). Absent when the CPU backend is unavailable.
   */
  level?: string;
  /** CPU: the kernel levels this build holds, lowest first. */
  levels?: string[];
  /** CPU (x86-64): the highest level this CPU and its OS run, from CPUID and XGETBV. */
  cpuLevel?: string;
  /** CPU (x86-64): the level features CPUID reports (`'avx2'`, `'avx512f'`, `'os:zmm-state'`, …). */
  features?: string[];
}

/** What is available, e.g. `[{ name: 'cpu', available: true, threads: 2 }, { name: 'cuda', available: false, reason: '…' }]`. */
export function backends(): BackendInfo[] {
  return binding.backends();
}
