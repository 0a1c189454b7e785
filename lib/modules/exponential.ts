import { checkInt } from '../validate';
import { ModuleOptions, ReparamModule, WeightShape, checkWeightShape, createNative, readBaseOptions } from './base';

export interface ExponentialOptions extends ModuleOptions {
  /** Terms of the truncated exponential series (up to A^(niters−1)/(niters−1)!; at least I + A, as orthogonium, so 0 and 1 act as 2). Defaults to `7`. */
  niters?: number;
}

/**
 * Matrix-exponential orthogonalization: pad to square `D = max(m, n)`,
 * `A = (w − wᵀ)/2`, `I + A + A²/2! + …` up to `A^(niters−1)/(niters−1)!`,
 * crop to `m × n`.
 */
export class BatchedExponentialOrthogonalization extends ReparamModule {
  readonly niters: number;

  constructor(weightShape: WeightShape, options?: ExponentialOptions) {
    const ws = checkWeightShape(weightShape);
    const { opts, native } = readBaseOptions(options, ['niters'], 'BatchedExponentialOrthogonalization options');
    native.niters = opts.niters === undefined ? 7 : checkInt(opts.niters, 'niters', 0);
    super(createNative('exponential', ws, native), ws, native.requiresGrad!);
    this.niters = native.niters;
  }
}
