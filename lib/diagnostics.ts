// Diagnostics: singular values, orthogonality error, available backends.
import { binding } from './native';
import { type DType, Tensor, handleOf, wrapNative } from './tensor';

/**
 * Per-matrix singular values, descending: shape `[...batch, min(m, n)]`, in
 * `w`'s dtype and on its device. Computed off the main thread.
 *
 * ```ts
 * const s = await singularValues(DEFAULT_ORTHO_PARAMS.build([64, 32]).forwardSync(w));
 * s.toTypedArray(); // all close to 1
 * ```
 */
export function singularValues<D extends DType>(w: Tensor<D>): Promise<Tensor<D>> {
  try {
    return binding.singularValues(handleOf(w, 'w')).then((h) => wrapNative(h) as Tensor<D>);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Synchronous twin of singularValues(). */
export function singularValuesSync<D extends DType>(w: Tensor<D>): Tensor<D> {
  return wrapNative(binding.singularValuesSync(handleOf(w, 'w'))) as Tensor<D>;
}

/**
 * Per-matrix ‖WᵀW − I‖_F (m ≥ n) or ‖WWᵀ − I‖_F (m < n): shape `[...batch]`
 * (`[]` for a single matrix), in `w`'s dtype and on its device. Computed off
 * the main thread.
 *
 * ```ts
 * const e = await orthogonalityError(q);
 * e.toArray(); // e.g. [3.1e-7] for one float32 matrix
 * ```
 */
export function orthogonalityError<D extends DType>(w: Tensor<D>): Promise<Tensor<D>> {
  try {
    return binding.orthogonalityError(handleOf(w, 'w')).then((h) => wrapNative(h) as Tensor<D>);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Synchronous twin of orthogonalityError(). */
export function orthogonalityErrorSync<D extends DType>(w: Tensor<D>): Tensor<D> {
  return wrapNative(binding.orthogonalityErrorSync(handleOf(w, 'w'))) as Tensor<D>;
}

/**
 * One compute backend as `backends()` reports it: whether it can be used,
 * and if not why; for the CPU its threads and kernel level, for CUDA its
 * devices and library versions.
 */
export interface BackendInfo {
  /** `'cpu'` or `'cuda'`. */
  name: string;
  /** Whether tensors can be put on this backend (`device: 'cpu'` / `'cuda:N'`). */
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

/**
 * The compute backends this build holds and whether each is available, e.g.
 * `[{ name: 'cpu', available: true, threads: 2, level: 'v3', … }, { name:
 * 'cuda', available: false, reason: '…' }]`. The command `orthogonium info`
 * prints the same.
 *
 * ```ts
 * const device = backends().some((b) => b.name === 'cuda' && b.available) ? 'cuda' : 'cpu';
 * ```
 */
export function backends(): BackendInfo[] {
  return binding.backends();
}
