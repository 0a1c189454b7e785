import { checkInt } from '../validate';
import { ModuleOptions, ReparamModule, WeightShape, checkWeightShape, createNative, readBaseOptions } from './base';

/** Options of `BatchedExponentialOrthogonalization`. */
export interface ExponentialOptions extends ModuleOptions {
  /** Terms of the truncated exponential series (up to A^(niters−1)/(niters−1)!; at least I + A, as orthogonium, so 0 and 1 act as 2). Defaults to `7`. */
  niters?: number;
}

/**
 * Matrix-exponential orthogonalization: pad to square `D = max(m, n)`,
 * `A = (w − wᵀ)/2`, `I + A + A²/2! + …` up to `A^(niters−1)/(niters−1)!`,
 * crop to `m × n`. The result is orthogonal up to the series' truncation
 * error, which grows with ‖A‖ (the presets bound it by a power iteration
 * first).
 *
 * ```ts
 * const ex = new BatchedExponentialOrthogonalization([16, 16], { niters: 12 });
 * const q = ex.forwardSync(new BatchedPowerIteration([16, 16]).forwardSync(w));
 * ```
 */
export class BatchedExponentialOrthogonalization extends ReparamModule {
  /** Terms of the series. */
  readonly niters: number;

  constructor(weightShape: WeightShape, options?: ExponentialOptions) {
    const ws = checkWeightShape(weightShape);
    const { opts, native, requiresGrad, defaults } = readBaseOptions('exponential', options, ['niters'], 'BatchedExponentialOrthogonalization options');
    const niters = opts.niters === undefined ? defaults.number('niters') : checkInt(opts.niters, 'niters', 0);
    native.niters = niters;
    super(createNative('exponential', ws, native), ws, requiresGrad);
    this.niters = niters;
  }
}
