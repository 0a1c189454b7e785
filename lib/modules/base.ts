// The common machinery of every reparametrizer module: validation, the
// per-module call queue, sync/async twins, and lifetime.
import type { NativeModule, NativeModuleKind, NativeModuleOptions, NativeTensor } from '../../binding';
import { ErrorCodes, makeError } from '../errors';
import { binding } from '../native';
import { type DType, Tensor, handleOf, wrapNative } from '../tensor';
import { checkBool, checkKeys, checkShape, checkSeed } from '../validate';

/**
 * Options every module accepts (each module adds its own):
 *
 * ```ts
 * new BatchedPowerIteration([64, 32], { requiresGrad: true, seed: 1 });
 * ```
 */
export interface ModuleOptions {
  /** Keep what backward() needs during forward(). Defaults to `false`. */
  requiresGrad?: boolean;
  /**
   * Seed for modules with random state (the power iteration's initial u, v);
   * accepted and ignored by the others, so that `OrthoParams.build` can hand
   * it to both. Defaults to a random seed.
   */
  seed?: number | bigint;
}

/** @internal */
export const BASE_OPTION_KEYS = ['requiresGrad', 'seed'] as const;

let registryDefaults: ReturnType<typeof binding.moduleDefaults> | undefined;

/**
 * @internal A module kind's option defaults, as its native op registers
 * them (native/ops/module_registry.h): their one home.
 */
export class Defaults {
  readonly #values: Record<string, boolean | number | string>;
  constructor(readonly kind: NativeModuleKind) {
    registryDefaults ??= binding.moduleDefaults();
    const values = registryDefaults[kind];
    if (!values) throw makeError(Error, ErrorCodes.INTERNAL, `no module kind '${kind}' is registered`);
    this.#values = values;
  }
  #get<T>(name: string, type: string): T {
    const v = this.#values[name];
    if (typeof v !== type) throw makeError(Error, ErrorCodes.INTERNAL, `${this.kind} has no ${type} default for ${name}`);
    return v as T;
  }
  number(name: string): number {
    return this.#get<number>(name, 'number');
  }
  bool(name: string): boolean {
    return this.#get<boolean>(name, 'boolean');
  }
  string(name: string): string {
    return this.#get<string>(name, 'string');
  }
}

/**
 * @internal Reads the base options of a module of `kind` and rejects
 * unknown keys; `defaults` holds the kind's registered defaults.
 */
export function readBaseOptions(kind: NativeModuleKind, options: unknown, extraKeys: readonly string[], what: string): {
  opts: Record<string, unknown>;
  native: NativeModuleOptions;
  requiresGrad: boolean;
  defaults: Defaults;
} {
  const opts = checkKeys(options, [...BASE_OPTION_KEYS, ...extraKeys], what);
  const defaults = new Defaults(kind);
  const requiresGrad = opts.requiresGrad === undefined ? defaults.bool('requiresGrad') : checkBool(opts.requiresGrad, 'requiresGrad');
  const native: NativeModuleOptions = { requiresGrad };
  if (opts.seed !== undefined) native.seed = checkSeed(opts.seed);
  return { opts, native, requiresGrad, defaults };
}

/**
 * A weight shape `[...batch, m, n]`: a batch (any number of dims, possibly
 * none) of m x n matrices. A module is built for one weight shape and takes
 * inputs of exactly that shape.
 */
export type WeightShape = readonly number[];

const kNative = Symbol('orthogonium.native');

/**
 * Base class of every module: the reparametrizers (`BatchedPowerIteration`,
 * `BatchedBjorckOrthogonalization`, …), `L2Normalize` and the composed
 * `OrthoModule`. A module computes `forward(w)` and, when built with
 * `requiresGrad: true`, the vector-Jacobian product `backward(gradOutput)`
 * of its latest forward.
 *
 * Calls on one module run in the order they were made: async calls queue
 * behind each other, and a sync call while async calls are pending throws
 * `ERR_ORTHO_BUSY` rather than overtaking them. The output has the input's
 * dtype and device.
 *
 * ```ts
 * const m = new BatchedBjorckOrthogonalization([64, 32], { requiresGrad: true });
 * const q = await m.forward(w);            // w: Tensor<'float32'> of shape [64, 32]
 * const gw = await m.backward(gradQ);      // gradient with respect to w
 * m.dispose();
 * ```
 */
export abstract class ReparamModule {
  /** The weight shape this module was built for (`[]` for L2Normalize). */
  readonly weightShape: readonly number[];
  /** Whether forward() keeps what backward() needs. */
  readonly requiresGrad: boolean;
  #native: NativeModule | null;
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;

  /** @internal */
  protected constructor(native: NativeModule, weightShape: readonly number[], requiresGrad: boolean) {
    this.#native = native;
    this.weightShape = Object.freeze(weightShape.slice());
    this.requiresGrad = requiresGrad;
  }

  /** @internal */
  static [kNative](m: ReparamModule): NativeModule {
    return m.#live();
  }

  /** The module's output for `w`, computed off the main thread. */
  forward<D extends DType>(w: Tensor<D>): Promise<Tensor<D>> {
    return this.#enqueue(w, 'the input', (n, h) => n.forward(h)) as Promise<Tensor<D>>;
  }

  /** The module's output for `w`, computed on the calling thread. */
  forwardSync<D extends DType>(w: Tensor<D>): Tensor<D> {
    const h = handleOf(w, 'the input');
    return wrapNative(this.#syncNative('forwardSync').forwardSync(h)) as Tensor<D>;
  }

  /**
   * The vector-Jacobian product: the gradient with respect to the latest
   * forward's input, given `gradOutput` (the gradient with respect to its
   * output). Needs `requiresGrad: true`.
   */
  backward<D extends DType>(gradOutput: Tensor<D>): Promise<Tensor<D>> {
    return this.#enqueue(gradOutput, 'gradOutput', (n, h) => n.backward(h)) as Promise<Tensor<D>>;
  }

  /** Synchronous twin of backward(). */
  backwardSync<D extends DType>(gradOutput: Tensor<D>): Tensor<D> {
    const h = handleOf(gradOutput, 'gradOutput');
    return wrapNative(this.#syncNative('backwardSync').backwardSync(h)) as Tensor<D>;
  }

  /** orthogonium's `right_inverse` (the identity for most modules). */
  rightInverse<D extends DType>(w: Tensor<D>): Tensor<D> {
    const h = handleOf(w, 'w');
    return wrapNative(this.#syncNative('rightInverse').rightInverse(h)) as Tensor<D>;
  }

  /**
   * Frees what the latest forward saved for backward. A sync call: throws
   * `ERR_ORTHO_BUSY` while async calls on this module are pending.
   */
  clearContext(): void {
    this.#syncNative('clearContext').clearContext();
  }

  /** Bytes currently held for backward (the saved context). */
  get contextBytes(): number {
    return this.#live().contextBytes();
  }

  /**
   * Releases native state and saved context. Idempotent. Later calls throw
   * `ERR_ORTHO_DISPOSED`; async calls made before it still run, in order,
   * and the native state goes when the last of them is done.
   */
  dispose(): void {
    const n = this.#native;
    this.#native = null;
    if (!n) return;
    if (this.#pending > 0) void this.#tail.then(() => n.dispose());
    else n.dispose();
  }

  /** `dispose()`, for `using m = new BatchedIdentity(shape)`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** @internal */
  protected get native(): NativeModule {
    return this.#live();
  }

  /** @internal Throws ERR_ORTHO_BUSY while async calls are pending. */
  protected checkIdle(what: string): void {
    if (this.#pending > 0)
      throw makeError(
        Error,
        ErrorCodes.BUSY,
        `${this.constructor.name}.${what} called while ${this.#pending} async call(s) on this module are pending; await them first`,
      );
  }

  #live(): NativeModule {
    if (!this.#native) throw makeError(Error, ErrorCodes.DISPOSED, `this ${this.constructor.name} has been disposed`);
    return this.#native;
  }

  #syncNative(what: string): NativeModule {
    const n = this.#live();
    this.checkIdle(`${what}()`);
    return n;
  }

  #enqueue(t: Tensor, what: string, call: (n: NativeModule, h: NativeTensor) => Promise<NativeTensor>): Promise<Tensor> {
    let h: NativeTensor;
    let n: NativeModule;
    try {
      n = this.#live();
      // Pin the input now: an alias handle keeps its memory alive even if
      // the caller disposes the tensor before this call's turn comes.
      h = handleOf(t, what).reshape(t.shape as number[]);
    } catch (e) {
      return Promise.reject(e);
    }
    this.#pending++;
    const run = this.#tail.then(() => call(n, h));
    this.#tail = run.catch(() => undefined);
    return run.then(
      (r) => {
        this.#pending--;
        h.dispose();
        return wrapNative(r);
      },
      (e) => {
        this.#pending--;
        h.dispose();
        throw e;
      },
    );
  }
}

/** @internal The native module of a module (for composition). */
export function nativeModuleOf(m: ReparamModule): NativeModule {
  return (ReparamModule as unknown as { [kNative](m: ReparamModule): NativeModule })[kNative](m);
}

/** @internal Builds a native module of `kind`. */
export function createNative(kind: NativeModuleKind, weightShape: readonly number[] | undefined, options: NativeModuleOptions): NativeModule {
  return new binding.NativeModule(kind, weightShape as number[] | undefined, options);
}

/** @internal */
export function checkWeightShape(weightShape: unknown): number[] {
  return checkShape(weightShape, 'weightShape', 2);
}

/**
 * A module class: `new Class(weightShape, options?)` builds an `M` taking
 * options `O`. `OrthoParams` and `classParam` accept these.
 */
export interface ModuleClass<O extends ModuleOptions = ModuleOptions, M extends ReparamModule = ReparamModule> {
  new (weightShape: WeightShape, options?: O): M;
  /** The prototype of the modules it builds. */
  readonly prototype: M;
}
