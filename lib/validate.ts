// Argument checks shared by the public classes. Each throws a TypeError or
// RangeError with a stable code that names the argument, what was expected
// and what was given. The native layer checks again (defense in depth).
import { ErrorCodes, describe, makeError } from './errors';

/** @internal */
export function checkShape(shape: unknown, what: string, minRank = 0): number[] {
  if (!Array.isArray(shape))
    throw makeError(TypeError, ErrorCodes.SHAPE, `${what} must be an array of positive integers, got ${describe(shape)}`);
  if (shape.length < minRank)
    throw makeError(
      RangeError,
      ErrorCodes.SHAPE,
      `${what} must have rank >= ${minRank} ([...batch, m, n]), got [${shape.join(', ')}] (rank ${shape.length})`,
    );
  shape.forEach((d, i) => {
    if (typeof d !== 'number' || !Number.isInteger(d))
      throw makeError(TypeError, ErrorCodes.SHAPE, `${what}[${i}] must be an integer, got ${describe(d)}`);
    if (d <= 0)
      throw makeError(
        RangeError,
        ErrorCodes.SHAPE,
        `${what}[${i}] must be positive (empty dimensions are not supported), got ${d} in [${shape.join(', ')}]`,
      );
  });
  return shape.slice() as number[];
}

/** @internal */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** @internal */
export function checkInt(v: unknown, what: string, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw makeError(TypeError, ErrorCodes.INVALID_ARG, `${what} must be an integer, got ${describe(v)}`);
  if (v < min) throw makeError(RangeError, ErrorCodes.INVALID_ARG, `${what} must be >= ${min}, got ${v}`);
  return v;
}

/** @internal */
export function checkNumber(v: unknown, what: string, opts: { min?: number } = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw makeError(TypeError, ErrorCodes.INVALID_ARG, `${what} must be a finite number, got ${describe(v)}`);
  if (opts.min !== undefined && v < opts.min)
    throw makeError(RangeError, ErrorCodes.INVALID_ARG, `${what} must be >= ${opts.min}, got ${v}`);
  return v;
}

/** @internal */
export function checkBool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean')
    throw makeError(TypeError, ErrorCodes.INVALID_ARG, `${what} must be a boolean, got ${describe(v)}`);
  return v;
}

/** @internal */
export function checkSeed(v: unknown, what = 'seed'): number | bigint {
  if (typeof v === 'bigint') {
    if (v < 0n || v >= 1n << 64n)
      throw makeError(RangeError, ErrorCodes.INVALID_ARG, `${what} must be in [0, 2^64), got ${v}`);
    return v;
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw makeError(TypeError, ErrorCodes.INVALID_ARG, `${what} must be a non-negative safe integer or a bigint, got ${describe(v)}`);
  return v;
}

/**
 * The arithmetic of an iterative orthogonalizer's float32 matrix products:
 * `'fp32'` (float32 throughout, the default), `'tf32'` (inputs rounded to
 * TF32, float32 sums: tensor cores) or `'bf16'` (inputs rounded to
 * bfloat16, float32 sums). The last iterations and the backward stay in
 * float32. Only the CUDA backend has the reduced arithmetic: on the CPU, and
 * for float64 tensors, every precision computes exactly what `'fp32'` does.
 */
export type Precision = 'fp32' | 'tf32' | 'bf16';

/** @internal */
export const PRECISIONS: readonly Precision[] = Object.freeze(['fp32', 'tf32', 'bf16']);

/** @internal */
export function checkPrecision(v: unknown, what = 'precision'): Precision {
  if (typeof v !== 'string')
    throw makeError(TypeError, ErrorCodes.INVALID_ARG, `${what} must be 'fp32', 'tf32' or 'bf16', got ${describe(v)}`);
  if (!(PRECISIONS as readonly string[]).includes(v))
    throw makeError(RangeError, ErrorCodes.INVALID_ARG, `${what} must be 'fp32', 'tf32' or 'bf16', got '${v}'`);
  return v as Precision;
}

/** @internal Rejects keys not in `allowed` (catches misspelled options). */
export function checkKeys(obj: unknown, allowed: readonly string[], what: string): Record<string, unknown> {
  if (obj === undefined || obj === null) return {};
  if (typeof obj !== 'object' || Array.isArray(obj))
    throw makeError(TypeError, ErrorCodes.INVALID_ARG, `${what} must be an object, got ${describe(obj)}`);
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k))
      throw makeError(
        TypeError,
        ErrorCodes.INVALID_ARG,
        `${what} has an unknown option '${k}' (expected one of: ${allowed.join(', ')})`,
      );
  }
  return obj as Record<string, unknown>;
}
