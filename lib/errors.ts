/**
 * Stable error codes. Every error the library throws is an `Error`,
 * `TypeError` or `RangeError` whose `code` property is one of these (see
 * `OrthoError`). Messages say what was expected and what was given; match on
 * the code, not the message.
 */
export const ErrorCodes = {
  /** A shape is wrong: rank, a non-positive or non-integer entry, or a mismatch with the module's weightShape. */
  SHAPE: 'ERR_ORTHO_SHAPE',
  /** A dtype is not 'float32'/'float64', or tensors that must agree do not. */
  DTYPE: 'ERR_ORTHO_DTYPE',
  /** A device string is malformed, tensors sit on different devices, or CUDA is unavailable (message says why). */
  DEVICE: 'ERR_ORTHO_DEVICE',
  /** An input holds NaN or ±Infinity, or a result overflowed. */
  NON_FINITE: 'ERR_ORTHO_NON_FINITE',
  /** Cholesky: X Xᵀ + 1e-5·I is not positive definite in this dtype. */
  NOT_POSITIVE_DEFINITE: 'ERR_ORTHO_NOT_POSITIVE_DEFINITE',
  /** QR backward on rank-deficient input (no gradient exists); a polar forward whose residual stalls above tol. */
  RANK_DEFICIENT: 'ERR_ORTHO_RANK_DEFICIENT',
  /** A tensor or module was used after dispose(). */
  DISPOSED: 'ERR_ORTHO_DISPOSED',
  /** backward() without requiresGrad: true, or before any forward(). */
  NO_GRAD: 'ERR_ORTHO_NO_GRAD',
  /** A synchronous call while async calls on the same module are pending. */
  BUSY: 'ERR_ORTHO_BUSY',
  /** An argument or option has the wrong type or value. */
  INVALID_ARG: 'ERR_ORTHO_INVALID_ARG',
  /** Host or device memory ran out. */
  OUT_OF_MEMORY: 'ERR_ORTHO_OUT_OF_MEMORY',
  /** A CUDA, cuBLAS or cuSOLVER call failed (message names the call). */
  CUDA: 'ERR_ORTHO_CUDA',
  /** A bug in orthogonium-node: please report it. */
  INTERNAL: 'ERR_ORTHO_INTERNAL',
} as const;

/** One of the `ErrorCodes` values, e.g. `'ERR_ORTHO_SHAPE'`. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * An error with a stable `code`: what the library throws (or rejects with).
 *
 * ```ts
 * try {
 *   m.forwardSync(Tensor.zeros([3, 3]));
 * } catch (e) {
 *   if ((e as OrthoError).code === ErrorCodes.SHAPE) console.error((e as OrthoError).message);
 * }
 * ```
 */
export interface OrthoError extends Error {
  /** Which kind of error: one of `ErrorCodes`. */
  code: ErrorCode;
}

type ErrorCtor = ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor;

/** @internal */
export function makeError(Ctor: ErrorCtor, code: ErrorCode, message: string): OrthoError {
  const err = new Ctor(message) as OrthoError;
  err.code = code;
  return err;
}

/** @internal Describes a value for messages ("a string 'x'", "an array of 3 items", …). */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `an array of ${v.length} item${v.length === 1 ? '' : 's'}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  if (typeof v === 'function') return `a function ${v.name || '(anonymous)'}`;
  const name = (v as object).constructor?.name;
  return name ? `a ${name}` : 'an object';
}
