import { ErrorCodes, describe, makeError } from '../errors';
import { ReparamModule, createNative, readBaseOptions } from './base';

/** Options of `L2Normalize` (it has no weight shape, hence no seed). */
export interface L2NormalizeOptions {
  /** Dimension(s) to normalize over (negative counts from the end). Defaults to all dimensions. */
  dim?: number | readonly number[];
  /** Keep what backward() needs. Defaults to `false`. */
  requiresGrad?: boolean;
}

/**
 * `x / (‖x‖ + 1e-8)` over `dim` (all dims when absent). Works on any shape,
 * so it is built without a weight shape.
 *
 * ```ts
 * const rows = new L2Normalize({ dim: -1 });      // each row to unit norm
 * rows.forwardSync(Tensor.from([3, 4, 0, 2], [2, 2])).toArray(); // ≈ [0.6, 0.8, 0, 1]
 * ```
 */
export class L2Normalize extends ReparamModule {
  /** The normalized dims, or `undefined` for all. */
  readonly dim: number | readonly number[] | undefined;

  constructor(options?: L2NormalizeOptions) {
    const { opts, native, requiresGrad } = readBaseOptions('l2normalize', options, ['dim'], 'L2Normalize options');
    const dim = opts.dim;
    if (dim !== undefined) {
      const list = typeof dim === 'number' ? [dim] : Array.isArray(dim) ? dim : null;
      if (!list || list.some((d) => typeof d !== 'number' || !Number.isInteger(d)))
        throw makeError(TypeError, ErrorCodes.INVALID_ARG, `dim must be an integer or an array of integers, got ${describe(dim)}`);
      native.dims = list.slice();
    }
    super(createNative('l2normalize', undefined, native), [], requiresGrad);
    this.dim = typeof dim === 'number' ? dim : dim === undefined ? undefined : Object.freeze((dim as number[]).slice());
  }
}
