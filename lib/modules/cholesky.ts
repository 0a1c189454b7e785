import { checkBool } from '../validate';
import { ModuleOptions, ReparamModule, WeightShape, checkWeightShape, createNative, readBaseOptions } from './base';

/** Options of `BatchedCholeskyOrthogonalization`. */
export interface CholeskyOptions extends ModuleOptions {
  /** Keep X for a backward that applies L⁻¹ to X rather than reusing W (same VJP). Defaults to `false`. */
  stable?: boolean;
}

/**
 * Cholesky orthogonalization: `S = XXᵀ + 1e-5·I`, `L = chol(S)`, `W = L⁻¹X`.
 * Rows of W are orthonormal up to the shift (W Wᵀ = I − 1e-5·(LᵀL)⁻¹).
 * Throws `ERR_ORTHO_NOT_POSITIVE_DEFINITE` when S is not positive definite
 * in the input's dtype. Needs no spectral normalization first.
 *
 * ```ts
 * const ch = new BatchedCholeskyOrthogonalization([32, 64]);
 * const w = ch.forwardSync(x);   // rows orthonormal (to about 5e-5 in float32)
 * ```
 */
export class BatchedCholeskyOrthogonalization extends ReparamModule {
  /** Whether X is kept for the backward. */
  readonly stable: boolean;

  constructor(weightShape: WeightShape, options?: CholeskyOptions) {
    const ws = checkWeightShape(weightShape);
    const { opts, native, requiresGrad, defaults } = readBaseOptions('cholesky', options, ['stable'], 'BatchedCholeskyOrthogonalization options');
    const stable = opts.stable === undefined ? defaults.bool('stable') : checkBool(opts.stable, 'stable');
    native.stable = stable;
    super(createNative('cholesky', ws, native), ws, requiresGrad);
    this.stable = stable;
  }
}
