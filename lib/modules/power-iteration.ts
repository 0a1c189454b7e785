import { Tensor, handleOf, wrapNative } from '../tensor';
import { checkInt, checkNumber } from '../validate';
import { ModuleOptions, ReparamModule, WeightShape, checkWeightShape, createNative, readBaseOptions } from './base';

/** Options of `BatchedPowerIteration`. */
export interface PowerIterationOptions extends ModuleOptions {
  /** Power iterations per forward (warm-started from the previous call). Defaults to `3`. */
  powerItNiter?: number;
  /** Added to the estimated spectral norm before dividing. Defaults to `1e-12`. */
  eps?: number;
}

/**
 * Spectral normalization by batched power iteration: per iteration
 * `v = l2n(Xᵀu)`, `u = l2n(Xv)`; output `X / (uᵀXv + eps)`. The state `u`
 * (`[...batch, m, 1]`) and `v` (`[...batch, n, 1]`) persists across calls
 * (warm start) and takes its dtype and device from the first input, or from
 * tensors assigned to `u`/`v`. Unlike orthogonium's forward, `powerItNiter`
 * is honoured. Backward treats u and v as constants.
 *
 * ```ts
 * const sn = new BatchedPowerIteration([8, 64, 32], { powerItNiter: 3, seed: 1 });
 * const x = sn.forwardSync(w);        // each of the 8 matrices divided by its spectral norm (estimate)
 * sn.u;                               // Tensor [8, 64, 1], warm start of the next call
 * ```
 */
export class BatchedPowerIteration extends ReparamModule {
  /** Power iterations per forward. */
  readonly powerItNiter: number;
  /** Added to the estimated spectral norm before dividing. */
  readonly eps: number;

  constructor(weightShape: WeightShape, options?: PowerIterationOptions) {
    const ws = checkWeightShape(weightShape);
    const { opts, native, requiresGrad, defaults } = readBaseOptions('power_iteration', options, ['powerItNiter', 'eps'], 'BatchedPowerIteration options');
    const powerItNiter = opts.powerItNiter === undefined ? defaults.number('powerItNiter') : checkInt(opts.powerItNiter, 'powerItNiter', 0);
    const eps = opts.eps === undefined ? defaults.number('eps') : checkNumber(opts.eps, 'eps', { min: 0 });
    Object.assign(native, { powerItNiter, eps });
    super(createNative('power_iteration', ws, native), ws, requiresGrad);
    this.powerItNiter = powerItNiter;
    this.eps = eps;
  }

  /** A copy of the left singular vector estimate, `[...batch, m, 1]`. */
  get u(): Tensor {
    return wrapNative(this.native.getState('u'));
  }
  /** Replaces u with `l2n(value)` (as orthogonium's parametrized assignment). */
  set u(value: Tensor) {
    this.checkIdle('u assignment');
    this.native.setState('u', handleOf(value, 'u'));
  }
  /** A copy of the right singular vector estimate, `[...batch, n, 1]`. */
  get v(): Tensor {
    return wrapNative(this.native.getState('v'));
  }
  /** Replaces v with `l2n(value)`. */
  set v(value: Tensor) {
    this.checkIdle('v assignment');
    this.native.setState('v', handleOf(value, 'v'));
  }
}
