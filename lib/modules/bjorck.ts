import { type Precision, checkBool, checkInt, checkNumber, checkPrecision } from '../validate';
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
  /**
   * The arithmetic of the float32 products of all but the last two
   * iterations on the GPU (see `Precision`): `'tf32'` or `'bf16'` use the
   * tensor cores, and the two float32 iterations after them bring the
   * orthogonality error back to float32's. The backward is float32.
   * Matrices small enough for the fused kernels (min(m, n) <= 64 on CUDA)
   * run every iteration in float32. Defaults to `'fp32'`.
   */
  precision?: Precision;
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
  /** The products' arithmetic (see `BjorckOptions.precision`). */
  readonly precision: Precision;
  /** @internal `OrthoParams.build` hands its `precision` to orthogonalizers that take one. */
  static readonly takesPrecision = true;

  constructor(weightShape: WeightShape, options?: BjorckOptions) {
    const ws = checkWeightShape(weightShape);
    const { opts, native, requiresGrad, defaults } = readBaseOptions(
      'bjorck', options, ['beta', 'niters', 'passThrough', 'precision'], 'BatchedBjorckOrthogonalization options');
    const beta = opts.beta === undefined ? defaults.number('beta') : checkNumber(opts.beta, 'beta');
    const niters = opts.niters === undefined ? defaults.number('niters') : checkInt(opts.niters, 'niters', 0);
    const passThrough = opts.passThrough === undefined ? defaults.bool('passThrough') : checkBool(opts.passThrough, 'passThrough');
    const precision = opts.precision === undefined ? (defaults.string('precision') as Precision) : checkPrecision(opts.precision);
    Object.assign(native, { beta, niters, passThrough, precision });
    super(createNative('bjorck', ws, native), ws, requiresGrad);
    this.beta = beta;
    this.niters = niters;
    this.passThrough = passThrough;
    this.precision = precision;
  }
}
