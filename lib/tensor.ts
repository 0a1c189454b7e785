// Tensor: a dense, contiguous, row-major array of float32 or float64 values
// on the CPU or a CUDA device, backed by native memory.
import type { NativeTensor } from '../binding';
import { ErrorCodes, describe, makeError } from './errors';
import { binding } from './native';
import { checkSeed, checkShape, numel, checkKeys } from './validate';

/**
 * Element type of a tensor: 32-bit or 64-bit IEEE floats. Modules keep the
 * dtype of their input; `Tensor#to(device, dtype)` converts.
 */
export type DType = 'float32' | 'float64';

/**
 * The typed array that holds each dtype's values on the host:
 * `TypedArrayOf['float64']` is `Float64Array`. `Tensor<D>#toTypedArray()`
 * returns `TypedArrayOf[D]`.
 */
export interface TypedArrayOf {
  /** float32 values. */
  float32: Float32Array;
  /** float64 values. */
  float64: Float64Array;
}

/**
 * Where a tensor lives: `'cpu'`, `'cuda'` (the same as `'cuda:0'`) or
 * `'cuda:N'` for the N-th CUDA device. `backends()` says which are available.
 */
export type DeviceName = 'cpu' | 'cuda' | `cuda:${number}`;

/**
 * Options of the tensor factories (`Tensor.from`, `zeros`, `eye`). The dtype
 * given here becomes the tensor's type parameter:
 *
 * ```ts
 * const t = Tensor.zeros([3, 3], { dtype: 'float64', device: 'cuda' }); // Tensor<'float64'>
 * ```
 */
export interface TensorOptions<D extends DType = DType> {
  /** Defaults to the typed array's dtype for `Tensor.from`, else `'float32'`. */
  dtype?: D;
  /** Defaults to `'cpu'`. */
  device?: DeviceName | string;
}

/** Options of `Tensor.randn`: those of every factory, plus a seed. */
export interface RandnOptions<D extends DType = DType> extends TensorOptions<D> {
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

// Why a token: the constructor is private to the type system only; a plain
// JavaScript caller could still reach it, and every Tensor must wrap a live
// native handle, so it checks a token only this file holds.
const kToken = Symbol('orthogonium.tensor');

let nativeOf: (t: Tensor) => NativeTensor;
let construct: (h: NativeTensor) => Tensor;

/**
 * A dense, contiguous, row-major array of float32 or float64 values on the
 * CPU or a CUDA device, backed by native memory. `D` is its dtype, so
 * `toTypedArray()` is typed accordingly. Tensors are immutable: every
 * operation returns a new one. Build them with the static factories:
 *
 * ```ts
 * const w = Tensor.randn([64, 32], { seed: 1 });             // Tensor<'float32'>
 * const x = Tensor.from(new Float64Array(6), [2, 3]);        // Tensor<'float64'>
 * const y = x.to('cuda:0');                                  // a copy on the GPU
 * const values: Float64Array = y.toTypedArray();             // a host copy
 * y.dispose();                                               // frees GPU memory now
 * ```
 *
 * Native memory is freed at garbage collection, or at once by `dispose()`
 * (or a `using` declaration).
 */
export class Tensor<D extends DType = DType> {
  readonly #handle: NativeTensor;
  readonly #shape: readonly number[];
  readonly #dtype: D;
  readonly #device: string;

  // Use the static factories.
  private constructor(token: symbol, handle: NativeTensor) {
    if (token !== kToken)
      throw makeError(TypeError, ErrorCodes.INVALID_ARG, 'Tensor cannot be constructed directly; use Tensor.from(), Tensor.randn(), Tensor.zeros() or Tensor.eye()');
    this.#handle = handle;
    this.#shape = Object.freeze(handle.shape.slice());
    this.#dtype = handle.dtype as D;
    this.#device = handle.device;
  }

  static {
    nativeOf = (t: Tensor) => t.#handle;
    construct = (h: NativeTensor) => new Tensor(kToken, h);
  }

  /**
   * A tensor holding a copy of `data` (later writes to `data` do not reach it).
   * The dtype follows the typed array; a `number[]` gives float32 unless
   * `options.dtype` says otherwise. `data` must have as many elements as
   * `shape` describes.
   *
   * ```ts
   * Tensor.from([1, 2, 3, 4], [2, 2]);                        // Tensor<'float32'>
   * Tensor.from([1, 2, 3, 4], [2, 2], { dtype: 'float64' });  // Tensor<'float64'>
   * ```
   */
  static from<A extends Float32Array | Float64Array | readonly number[], E extends DType = A extends Float64Array ? 'float64' : 'float32'>(
    data: A,
    shape: readonly number[],
    options?: TensorOptions<E>,
  ): Tensor<E> {
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
    return wrapNative(binding.tensorFromArray(arr, s, dtype, o.device)) as Tensor<E>;
  }

  /**
   * Standard normal values; reproducible with `seed` (the same seed gives
   * the same values on every device). float32 unless `options.dtype` says
   * otherwise.
   */
  static randn<E extends DType = 'float32'>(shape: readonly number[], options?: RandnOptions<E>): Tensor<E> {
    const s = checkShape(shape, 'shape');
    const o = readOptions(options, ['seed']);
    const seed = o.rest.seed === undefined ? undefined : checkSeed(o.rest.seed);
    return wrapNative(binding.tensorRandn(s, o.dtype ?? 'float32', o.device, seed)) as Tensor<E>;
  }

  /** All zeros; float32 unless `options.dtype` says otherwise. */
  static zeros<E extends DType = 'float32'>(shape: readonly number[], options?: TensorOptions<E>): Tensor<E> {
    const s = checkShape(shape, 'shape');
    const o = readOptions(options);
    return wrapNative(binding.tensorFill('zeros', s, o.dtype ?? 'float32', o.device)) as Tensor<E>;
  }

  /**
   * Identity matrices: `eye(n)` is n x n, `eye([...batch, m, n])` a batch of
   * m x n matrices with ones on the diagonal. float32 unless `options.dtype`
   * says otherwise.
   */
  static eye<E extends DType = 'float32'>(shape: number | readonly number[], options?: TensorOptions<E>): Tensor<E> {
    const s = typeof shape === 'number' ? checkShape([shape, shape], 'n') : checkShape(shape, 'shape', 2);
    const o = readOptions(options);
    return wrapNative(binding.tensorFill('eye', s, o.dtype ?? 'float32', o.device)) as Tensor<E>;
  }

  /** `[...batch, m, n]` for weights. */
  get shape(): readonly number[] {
    return this.#shape;
  }
  /** `'float32'` or `'float64'`. */
  get dtype(): D {
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
  /** Number of dimensions (`shape.length`). */
  get ndim(): number {
    return this.#shape.length;
  }
  /** True after dispose(). */
  get disposed(): boolean {
    return this.#handle.disposed;
  }

  /**
   * A host copy of the values, row-major: a `Float32Array` for a float32
   * tensor, a `Float64Array` for a float64 one.
   */
  toTypedArray(): TypedArrayOf[D] {
    return this.#live().toTypedArray() as TypedArrayOf[D];
  }

  /** A plain array of numbers (a host copy). */
  toArray(): number[] {
    return Array.from(this.toTypedArray());
  }

  /**
   * A copy on `device` (and converted to `dtype` when given).
   *
   * ```ts
   * const g = w.to('cuda');               // same dtype, on the first GPU
   * const h = w.to('cpu', 'float64');     // Tensor<'float64'>
   * ```
   */
  to<E extends DType = D>(device: DeviceName | string, dtype?: E): Tensor<E> {
    const dev = checkDevice(device);
    const dt = dtype === undefined ? undefined : checkDtype(dtype);
    return wrapNative(this.#live().to(dev, dt)) as Tensor<E>;
  }

  /** The same values under another shape with as many elements. */
  reshape(shape: readonly number[]): Tensor<D> {
    const s = checkShape(shape, 'shape');
    if (numel(s) !== this.size)
      throw makeError(RangeError, ErrorCodes.SHAPE, `cannot reshape [${this.#shape.join(', ')}] (${this.size} elements) to [${s.join(', ')}] (${numel(s)} elements)`);
    return wrapNative(this.#live().reshape(s)) as Tensor<D>;
  }

  /** An independent copy. */
  clone(): Tensor<D> {
    return wrapNative(this.#live().to(this.#device)) as Tensor<D>;
  }

  /**
   * Releases this tensor's native (host or device) memory now instead of at
   * garbage collection. Idempotent. Memory still used by a running job or a
   * module's saved context is freed when that ends.
   */
  dispose(): void {
    this.#handle.dispose();
  }

  /** `dispose()`, for `using t = Tensor.randn(...)`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** `Tensor(shape=[2, 3], dtype=float32, device=cpu)`. */
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
  return construct(h);
}

/** @internal The live native handle of a tensor argument (checks type and disposal). */
export function handleOf(t: unknown, what: string): NativeTensor {
  if (!(t instanceof Tensor)) throw makeError(TypeError, ErrorCodes.INVALID_ARG, `${what} must be a Tensor, got ${describe(t)}`);
  const h = nativeOf(t);
  if (h.disposed) throw makeError(Error, ErrorCodes.DISPOSED, `${what} (${t.toString()}) has been disposed`);
  return h;
}
