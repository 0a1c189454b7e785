import { checkBool, checkInt, checkNumber } from '../validate';
import { ModuleOptions, ReparamModule, WeightShape, checkWeightShape, createNative, readBaseOptions } from './base';

/** Options of `BatchedBjorckOrthogonalization`. */
export interface BjorckOptions extends ModuleOptions {
  /** Step coefficient. Defaults to `0.5`. */
  beta?: number;
  /** Number of iterations. Defaults to `12`. */
  niters?: number;
  /**
   * Run the `niters` iterations without saving anything for backward, then
   * one more recorded iteration whose VJP is passed straight through to the
   * input (memory flat in `niters`). Defaults to `false`.
   */
  passThrough?: boolean;
}

/**
 * Björck orthogonalization: `w ← (1+β)w − β·w(wᵀw)` (m ≥ n) or
 * `(1+β)w − β·(wwᵀ)w` (m < n), `niters` times. Converges to the orthogonal
 * polar factor when the input's spectral norm is at most 1 (use a spectral
 * normalizer first, as the presets do).
 *
 * ```ts
 * const sn = new BatchedPowerIteration([64, 32]);
 * const bj = new BatchedBjorckOrthogonalization([64, 32], { niters: 12 });
 * const q = bj.forwardSync(sn.forwardSync(w));
 * ```
 */
export class BatchedBjorckOrthogonalization extends ReparamModule {
  /** Step coefficient β. */
  readonly beta: number;
  /** Number of iterations. */
  readonly niters: number;
  /** Whether backward passes the last step's VJP straight through (see `BjorckOptions`). */
  readonly passThrough: boolean;

  constructor(weightShape: WeightShape, options?: BjorckOptions) {
    const ws = checkWeightShape(weightShape);
    const { opts, native, requiresGrad, defaults } = readBaseOptions(
      'bjorck', options, ['beta', 'niters', 'passThrough'], 'BatchedBjorckOrthogonalization options');
    const beta = opts.beta === undefined ? defaults.number('beta') : checkNumber(opts.beta, 'beta');
    const niters = opts.niters === undefined ? defaults.number('niters') : checkInt(opts.niters, 'niters', 0);
    const passThrough = opts.passThrough === undefined ? defaults.bool('passThrough') : checkBool(opts.passThrough, 'passThrough');
    Object.assign(native, { beta, niters, passThrough });
    super(createNative('bjorck', ws, native), ws, requiresGrad);
    this.beta = beta;
    this.niters = niters;
    this.passThrough = passThrough;
  }
}
