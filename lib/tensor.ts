// Tensor: a dense, contiguous, row-major array of float32 or float64 values
// on the CPU or a CUDA device, backed by native memory.
import type { NativeTensor } from '../binding';
import { ErrorCodes, describe, makeError } from './errors';
import { binding } from './native';
import { checkSeed, checkShape, numel, checkKeys } from './validate';

/** Element type of a tensor. */
export type DType = 'float32' | 'float64';
/** Typed array for each dtype. */
export interface TypedArrayOf {
  float32: Float32Array;
  float64: Float64Array;
}
/** `'cpu'`, `'cuda'` (= `'cuda:0'`) or `'cuda:N'`. */
export type DeviceName = 'cpu' | 'cuda' | `cuda:${number}`;

export interface TensorOptions {
  /** Defaults to the typed array's dtype for `Tensor.from`, else `'float32'`. */
  dtype?: DType;
  /** Defaults to `'cpu'`. */
  device?: DeviceName | string;
}

export interface RandnOptions extends TensorOptions {
  /** Seed for reproducible values (same seed: same values on every device). Defaults to a random seed. */
  seed?: number | bigint;
}

const DTYPES: readonly string[] = ['float32', 'float64'];

function checkDtype(d: unknown): DType {
  if (typeof d !== 'string' || !DTYPES.includes(d))
    throw makeError(TypeError, ErrorCodes.DTYPE, `dtype must be 'float32' or 'float64', got ${describe(d)}`);
  return d as DType;
}

/** @internal */
export function checkDevice(d: unknown): string {
  if (typeof d !== 'string' || !/^(cpu|cuda(:\d{1,3})?)$/.test(d))
    throw makeError(TypeError, ErrorCodes.DEVICE, `device must be 'cpu', 'cuda' or 'cuda:N', got ${describe(d)}`);
  return d === 'cuda' ? 'cuda:0' : d;
}

function readOptions(opts: unknown, extra: readonly string[] = []): { dtype?: DType; device: string; rest: Record<string, unknown> } {
  const o = checkKeys(opts, ['dtype', 'device', ...extra], 'options');
  return {
    dtype: o.dtype === undefined ? undefined : checkDtype(o.dtype),
    device: o.device === undefined ? 'cpu' : checkDevice(o.device),
    rest: o,
  };
}

// Why a token: the constructor is internal; users build tensors through the
// static factories, so every Tensor wraps a live native handle.
const kToken = Symbol('orthogonium.tensor');

let nativeOf: (t: Tensor) => NativeTensor;

export class Tensor {
  readonly #handle: NativeTensor;
  readonly #shape: readonly number[];
  readonly #dtype: DType;
  readonly #device: string;

  /** @internal Use the static factories. */
  constructor(token: symbol, handle: NativeTensor) {
    if (token !== kToken)
      throw makeError(TypeError, ErrorCodes.INVALID_ARG, 'Tensor cannot be constructed directly; use Tensor.from(), Tensor.randn(), Tensor.zeros() or Tensor.eye()');
    this.#handle = handle;
    this.#shape = Object.freeze(handle.shape.slice());
    this.#dtype = handle.dtype;
    this.#device = handle.device;
  }

  static {
    nativeOf = (t: Tensor) => t.#handle;
  }

  /**
   * A tensor holding a copy of `data` (later writes to `data` do not reach it).
   * The dtype follows the typed array; a `number[]` gives float32 unless
   * `options.dtype` says otherwise.
   */
  static from(data: Float32Array | Float64Array | readonly number[], shape: readonly number[], options?: TensorOptions): Tensor {
    const s = checkShape(shape, 'shape');
    const o = readOptions(options);
    let arr: Float32Array | Float64Array;
    if (data instanceof Float32Array || data instanceof Float64Array) {
      arr = data;
    } else if (Array.isArray(data)) {
      const Ctor = o.dtype === 'float64' ? Float64Array : Float32Array;
      arr = new Ctor(data.length);
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        if (typeof v !== 'number')
          throw makeError(TypeError, ErrorCodes.INVALID_ARG, `data[${i}] must be a number, got ${describe(v)}`);
        arr[i] = v;
      }
    } else {
      throw makeError(TypeError, ErrorCodes.INVALID_ARG, `data must be a Float32Array, a Float64Array or an array of numbers, got ${describe(data)}`);
    }
    const n = numel(s);
    if (arr.length !== n)
      throw makeError(RangeError, ErrorCodes.SHAPE, `data has ${arr.length} elements but shape [${s.join(', ')}] needs ${n}`);
    const dtype = o.dtype ?? (arr instanceof Float64Array ? 'float64' : 'float32');
    return wrapNative(binding.tensorFromArray(arr, s, dtype, o.device));
  }

  /** Standard normal values; reproducible with `seed`. */
  static randn(shape: readonly number[], options?: RandnOptions): Tensor {
    const s = checkShape(shape, 'shape');
    const o = readOptions(options, ['seed']);
    const seed = o.rest.seed === undefined ? undefined : checkSeed(o.rest.seed);
    return wrapNative(binding.tensorRandn(s, o.dtype ?? 'float32', o.device, seed));
  }

  /** All zeros. */
  static zeros(shape: readonly number[], options?: TensorOptions): Tensor {
    const s = checkShape(shape, 'shape');
    const o = readOptions(options);
    return wrapNative(binding.tensorFill('zeros', s, o.dtype ?? 'float32', o.device));
  }

  /**
   * Identity matrices: `eye(n)` is n x n, `eye([...batch, m, n])` a batch of
   * m x n matrices with ones on the diagonal.
   */
  static eye(shape: number | readonly number[], options?: TensorOptions): Tensor {
    const s = typeof shape === 'number' ? checkShape([shape, shape], 'n') : checkShape(shape, 'shape', 2);
    const o = readOptions(options);
    return wrapNative(binding.tensorFill('eye', s, o.dtype ?? 'float32', o.device));
  }

  /** `[...batch, m, n]` for weights. */
  get shape(): readonly number[] {
    return this.#shape;
  }
  get dtype(): DType {
    return this.#dtype;
  }
  /** `'cpu'` or `'cuda:N'`. */
  get device(): string {
    return this.#device;
  }
  /** Number of elements. */
  get size(): number {
    return numel(this.#shape);
  }
  get ndim(): number {
    return this.#shape.length;
  }
  /** True after dispose(). */
  get disposed(): boolean {
    return this.#handle.disposed;
  }

  /** A host copy of the values, as a Float32Array or Float64Array. */
  toTypedArray(): Float32Array | Float64Array {
    return this.#live().toTypedArray();
  }

  /** A plain array of numbers (a host copy). */
  toArray(): number[] {
    return Array.from(this.toTypedArray());
  }

  /** A copy on `device` (and in `dtype` when given). */
  to(device: DeviceName | string, dtype?: DType): Tensor {
    const dev = checkDevice(device);
    const dt = dtype === undefined ? undefined : checkDtype(dtype);
    return wrapNative(this.#live().to(dev, dt));
  }

  /** The same values under another shape with as many elements. */
  reshape(shape: readonly number[]): Tensor {
    const s = checkShape(shape, 'shape');
    if (numel(s) !== this.size)
      throw makeError(RangeError, ErrorCodes.SHAPE, `cannot reshape [${this.#shape.join(', ')}] (${this.size} elements) to [${s.join(', ')}] (${numel(s)} elements)`);
    return wrapNative(this.#live().reshape(s));
  }

  /** An independent copy. */
  clone(): Tensor {
    return wrapNative(this.#live().to(this.#device));
  }

  /**
   * Releases this tensor's native (host or device) memory now instead of at
   * garbage collection. Idempotent. Memory still used by a running job or a
   * module's saved context is freed when that ends.
   */
  dispose(): void {
    this.#handle.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    return `Tensor(shape=[${this.#shape.join(', ')}], dtype=${this.#dtype}, device=${this.#device}${this.disposed ? ', disposed' : ''})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  #live(): NativeTensor {
    if (this.#handle.disposed) throw makeError(Error, ErrorCodes.DISPOSED, `${this.toString()} has been disposed`);
    return this.#handle;
  }
}

/** @internal Wraps a native handle. */
export function wrapNative(h: NativeTensor): Tensor {
  return new Tensor(kToken, h);
}

/** @internal The live native handle of a tensor argument (checks type and disposal). */
export function handleOf(t: unknown, what: string): NativeTensor {
  if (!(t instanceof Tensor)) throw makeError(TypeError, ErrorCodes.INVALID_ARG, `${what} must be a Tensor, got ${describe(t)}`);
  const h = nativeOf(t);
  if (h.disposed) throw makeError(Error, ErrorCodes.DISPOSED, `${what} (${t.toString()}) has been disposed`);
  return h;
}
