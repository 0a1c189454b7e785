import { ErrorCodes, makeError } from '../errors';
import { binding } from '../native';
import { type Precision, checkInt, checkNumber, checkPrecision } from '../validate';
import { ModuleOptions, ReparamModule, WeightShape, checkWeightShape, createNative, readBaseOptions } from './base';

export interface PolarOptions extends ModuleOptions {
  /**
   * Stop once every matrix of the batch has `‖QᵀQ − I‖_F / √k ≤ tol`
   * (k = min(m, n)). Defaults to `4e-6` for float32 and `1e-13` for float64,
   * a little above each dtype's rounding floor.
   */
  tol?: number;
  /** Most polynomial steps (schedule and tail together). Defaults to `50`. */
  maxIters?: number;
  /**
   * The smallest σmin/σmax the coefficient schedule is built for (inputs are
   * scaled so that σmax ≤ 1; the scaling may overestimate σmax by up to
   * 1.01·k^⅛, so the guarantee holds for σmin/σmax ≥ 1.01·k^⅛·lowerBound).
   * Smaller σmin still converge through the Newton–Schulz tail, a decade per
   * ~3.7 steps. Defaults to `1e-5`.
   */
  lowerBound?: number;
  /**
   * What a forward does when the residual of some matrix stalls above
   * `tol` (rank-deficient input, or σmin below what `lowerBound` and
   * `maxIters` reach): `'error'` throws `ERR_ORTHO_RANK_DEFICIENT`;
   * `'flag'` returns the result and lists the matrices in
   * `lastDiagnostics.stalled` (`lastConverged` false). Defaults to `'error'`.
   */
  onStall?: 'error' | 'flag';
  /**
   * The arithmetic of the schedule's float32 products on the GPU, all but
   * its last step (see `Precision`): `'tf32'` or `'bf16'` use the tensor
   * cores. The scaling, the last schedule step, the residual checks, the
   * Newton–Schulz tail and the backward are float32, so the result still
   * meets `tol` (orthonormal to float32 precision); but it is the polar
   * factor of the input perturbed by the rounding, about 1e-3 (TF32) or
   * 1e-2 (bfloat16) relative from the float32 result for well-conditioned
   * input, more for ill-conditioned (README, "Reduced precision").
   * Defaults to `'fp32'`.
   */
  precision?: Precision;
}

/** What the latest forward of a polar module found. */
export interface PolarDiagnostics {
  /** Polynomial steps applied (schedule and tail). */
  iterations: number;
  /** The largest per-matrix residual `‖QᵀQ − I‖_F / √k`. */
  residual: number;
  /** Every matrix reached `residual ≤ tol`. */
  converged: boolean;
  /** The tolerance in force (the dtype's default when none was given). */
  tol: number;
  /** Per-matrix residuals, in batch order. */
  residuals: Float64Array;
  /** Batch indices of the matrices whose residual stalled above tol. */
  stalled: number[];
  /**
   * Batch indices of the matrices whose σmin/σmax fell below the schedule's
   * range (seen from the residual right after the schedule), converged or
   * not. Rank-deficient float32 input can converge to one of many
   * orthonormal completions: it is listed here.
   */
  belowLowerBound: number[];
}

/**
 * The orthogonal polar factor `Q = UVᵀ` of each `W = USVᵀ` (orthonormal
 * columns for tall W, rows for wide): the nearest matrix with orthonormal
 * columns (rows) in the Frobenius norm. Matrix products only (Polar Express
 * quintic schedule, then Newton–Schulz), stopped by tolerance; no spectral
 * normalizer needed (the scaling is internal and never underestimates σmax).
 * backward() is the VJP of the polar factor itself (a Sylvester equation,
 * solved by products as well); see docs/polar.md.
 */
export class BatchedPolarOrthogonalization extends ReparamModule {
  /** The tolerance given, or `undefined` for the dtype's default. */
  readonly tol: number | undefined;
  /** Most polynomial steps per forward (schedule and tail). */
  readonly maxIters: number;
  /** The smallest σmin/σmax the coefficient schedule is built for. */
  readonly lowerBound: number;
  /** What a forward does with a stalled matrix: throw, or return it flagged. */
  readonly onStall: 'error' | 'flag';
  /** The schedule's product arithmetic (see `PolarOptions.precision`). */
  readonly precision: Precision;
  /** @internal `OrthoParams.build` hands its `precision` to orthogonalizers that take one. */
  static readonly takesPrecision = true;

  constructor(weightShape: WeightShape, options?: PolarOptions) {
    const ws = checkWeightShape(weightShape);
    const { opts, native, requiresGrad, defaults } = readBaseOptions(
      'polar',
      options,
      ['tol', 'maxIters', 'lowerBound', 'onStall', 'precision'],
      'BatchedPolarOrthogonalization options',
    );
    let tol: number | undefined;
    if (opts.tol !== undefined) {
      tol = checkNumber(opts.tol, 'tol');
      if (!(tol > 0)) throw makeError(RangeError, ErrorCodes.INVALID_ARG, `tol must be > 0, got ${tol}`);
    }
    const maxIters = opts.maxIters === undefined ? defaults.number('maxIters') : checkInt(opts.maxIters, 'maxIters', 1);
    const lowerBound = opts.lowerBound === undefined ? defaults.number('lowerBound') : checkNumber(opts.lowerBound, 'lowerBound');
    if (!(lowerBound > 0 && lowerBound < 1))
      throw makeError(RangeError, ErrorCodes.INVALID_ARG, `lowerBound must be in (0, 1), got ${lowerBound}`);
    const onStall = opts.onStall === undefined ? defaults.string('onStall') : opts.onStall;
    if (onStall !== 'error' && onStall !== 'flag')
      throw makeError(TypeError, ErrorCodes.INVALID_ARG, `onStall must be 'error' or 'flag', got ${String(onStall)}`);
    const precision = opts.precision === undefined ? (defaults.string('precision') as Precision) : checkPrecision(opts.precision);
    Object.assign(native, { tol, maxIters, lowerBound, onStall, precision });
    super(createNative('polar', ws, native), ws, requiresGrad);
    this.tol = tol;
    this.maxIters = maxIters;
    this.lowerBound = lowerBound;
    this.onStall = onStall;
    this.precision = precision;
  }

  /** What the latest forward found, or `null` before the first. */
  get lastDiagnostics(): PolarDiagnostics | null {
    return this.native.polarDiagnostics();
  }

  /** Polynomial steps of the latest forward (`NaN` before the first). */
  get lastIterations(): number {
    return this.lastDiagnostics?.iterations ?? NaN;
  }

  /** Largest residual `‖QᵀQ − I‖_F / √k` of the latest forward (`NaN` before the first). */
  get lastResidual(): number {
    return this.lastDiagnostics?.residual ?? NaN;
  }

  /** Whether every matrix of the latest forward reached tol (`false` before the first). */
  get lastConverged(): boolean {
    return this.lastDiagnostics?.converged ?? false;
  }

  /**
   * The coefficient schedule `[[a, b, c], …]` for `lowerBound`, derived at
   * run time (Remez exchange for each greedy minimax odd quintic, with the
   * Polar Express cushion and 1.01 safety factor); the Newton–Schulz quintic
   * `(1.875, −1.25, 0.375)` follows it until tol.
   */
  static schedule(lowerBound = 1e-5): number[][] {
    const lb = checkNumber(lowerBound, 'lowerBound');
    return binding.polarSchedule(lb);
  }
}
