// OrthoParams: an orthogonalizer composed after a spectral normalizer, and
// orthogonium's seven presets.
import { ErrorCodes, describe, makeError } from './errors';
import { binding } from './native';
import { ModuleClass, ModuleOptions, ReparamModule, WeightShape, checkWeightShape, nativeModuleOf } from './modules/base';
import { BatchedBjorckOrthogonalization } from './modules/bjorck';
import { BatchedPolarOrthogonalization } from './modules/polar';
import { BatchedCholeskyOrthogonalization } from './modules/cholesky';
import { BatchedExponentialOrthogonalization } from './modules/exponential';
import { BatchedIdentity } from './modules/identity';
import { BatchedPowerIteration } from './modules/power-iteration';
import { BatchedQROrthogonalization } from './modules/qr';
import { type Precision, checkBool, checkKeys, checkPrecision, checkSeed } from './validate';

/**
 * Builds a module for a weight shape: `(weightShape, overrides?) => module`.
 * `classParam` makes one from a module class and default options; any
 * function of this shape that returns an orthogonium module will do.
 */
export interface ModuleFactory<M extends ReparamModule = ReparamModule> {
  (weightShape: WeightShape, overrides?: ModuleOptions & Record<string, unknown>): M;
  /** The class this factory builds (when made by classParam). */
  readonly moduleClass?: ModuleClass;
  /** The options it passes (when made by classParam). */
  readonly defaults?: Readonly<Record<string, unknown>>;
}

/**
 * How `OrthoParams` builds one of its halves: a factory, or a module class
 * (called with `new Class(weightShape, overrides)`). `M` is the module it
 * builds.
 */
export type ModuleSpec<M extends ReparamModule = ReparamModule> = ModuleFactory<M> | ModuleClass<any, M>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * orthogonium's `ClassParam`: a factory that builds `ModuleClass` with
 * `defaults`, overridden by the options given at build time. The factory's
 * type keeps the class, so a module built through it has its concrete type.
 *
 * ```ts
 * const params = new OrthoParams({
 *   orthogonalizer: classParam(BatchedBjorckOrthogonalization, { niters: 20 }),
 * });
 * params.build([64, 32]).orthogonalizer.niters; // 20, typed as number
 * ```
 */
export function classParam<C extends ModuleClass<any, any>>( // eslint-disable-line @typescript-eslint/no-explicit-any
  ModuleClass: C,
  defaults: NonNullable<ConstructorParameters<C>[1]> = {} as NonNullable<ConstructorParameters<C>[1]>,
): ModuleFactory<InstanceType<C>> {
  if (!isModuleClass(ModuleClass))
    throw makeError(TypeError, ErrorCodes.INVALID_ARG, `classParam needs a module class, got ${describe(ModuleClass)}`);
  const frozen = Object.freeze({ ...(checkKeys(defaults, Object.keys(defaults ?? {}), 'defaults') as object) });
  const factory = (weightShape: WeightShape, overrides?: ModuleOptions & Record<string, unknown>) =>
    new ModuleClass(weightShape, { ...frozen, ...(overrides ?? {}) }) as InstanceType<C>;
  Object.defineProperty(factory, 'moduleClass', { value: ModuleClass, enumerable: true });
  Object.defineProperty(factory, 'defaults', { value: frozen, enumerable: true });
  Object.defineProperty(factory, 'name', { value: `classParam(${ModuleClass.name})` });
  return factory as unknown as ModuleFactory<InstanceType<C>>;
}

function isModuleClass(f: unknown): f is ModuleClass {
  return typeof f === 'function' && (f.prototype instanceof ReparamModule || f === ReparamModule);
}

/** @internal The class a spec builds: the spec itself, or a classParam factory's class; undefined for a hand-written factory. */
export function moduleClassOf(spec: ModuleSpec): ModuleClass | undefined {
  return isModuleClass(spec) ? spec : (spec as ModuleFactory).moduleClass;
}

/** @internal Whether modules of this class take a `precision` option (Björck, polar). */
export function takesPrecision(cls: ModuleClass | undefined): boolean {
  return (cls as { takesPrecision?: boolean } | undefined)?.takesPrecision === true;
}

function instantiate(spec: ModuleSpec, weightShape: WeightShape, overrides: ModuleOptions, what: string): ReparamModule {
  const m = isModuleClass(spec) ? new spec(weightShape, overrides) : (spec as ModuleFactory)(weightShape, overrides as ModuleOptions & Record<string, unknown>);
  if (!(m instanceof ReparamModule))
    throw makeError(TypeError, ErrorCodes.INVALID_ARG, `${what} must build an orthogonium module, got ${describe(m)}`);
  return m;
}

function checkSpec(spec: unknown, what: string): ModuleSpec {
  if (typeof spec !== 'function')
    throw makeError(TypeError, ErrorCodes.INVALID_ARG, `${what} must be a module class or a factory (classParam), got ${describe(spec)}`);
  return spec as ModuleSpec;
}

/**
 * The two halves of an `OrthoParams`; a half left out gets orthogonium's
 * default. `S` and `O` are the module types they build.
 */
export interface OrthoParamsInit<S extends ReparamModule = ReparamModule, O extends ReparamModule = ReparamModule> {
  /** Defaults to `classParam(BatchedPowerIteration, { powerItNiter: 3, eps: 1e-6 })`. */
  spectralNormalizer?: ModuleSpec<S>;
  /** Defaults to `classParam(BatchedBjorckOrthogonalization, { beta: 0.5, niters: 12, passThrough: false })`. */
  orthogonalizer?: ModuleSpec<O>;
}

/** Options of `OrthoParams#build`, handed to both halves. */
export interface BuildOptions {
  /** Keep what backward() needs, in both modules. Defaults to `false`. */
  requiresGrad?: boolean;
  /** Fixes the power iteration's initial u, v. Defaults to a random seed. */
  seed?: number | bigint;
  /**
   * The orthogonalizer's matrix-product arithmetic (see `Precision`), for
   * orthogonalizers that iterate products (Björck, polar). `'tf32'` or `'bf16'`
   * with any other orthogonalizer is an `ERR_ORTHO_INVALID_ARG` error. The
   * spectral normalizer's products are matrix-vector and stay float32.
   * Defaults to the orthogonalizer's own (`'fp32'`).
   */
  precision?: Precision;
}

/**
 * orthogonium's `OrthoParams`: a spectral normalizer and an orthogonalizer,
 * composed by `build()` into one module for a weight shape. The presets
 * (`DEFAULT_ORTHO_PARAMS`, `CHOLESKY_ORTHO_PARAMS`, …) are instances. `S` and
 * `O` are the module types of the two halves, inferred from the specs given
 * (name them, e.g. `new OrthoParams<BatchedPowerIteration, BatchedQROrthogonalization>(…)`,
 * when a half is left out to get the default), so a built module's halves
 * have their concrete classes:
 *
 * ```ts
 * const m = DEFAULT_ORTHO_PARAMS.build([256, 128], { requiresGrad: true });
 * const u = m.spectralNormalizer.u;   // BatchedPowerIteration's state, no cast
 * const q = await m.forward(w);
 * ```
 */
export class OrthoParams<S extends ReparamModule = ReparamModule, O extends ReparamModule = ReparamModule> {
  /** Builds the spectral normalizer. */
  readonly spectralNormalizer: ModuleSpec<S>;
  /** Builds the orthogonalizer. */
  readonly orthogonalizer: ModuleSpec<O>;

  constructor(init: OrthoParamsInit<S, O> = {}) {
    const o = checkKeys(init, ['spectralNormalizer', 'orthogonalizer'], 'OrthoParams options');
    // The casts: a half left out builds the default class, which the type
    // parameters only know when the caller names them.
    this.spectralNormalizer = (
      o.spectralNormalizer === undefined
        ? classParam(BatchedPowerIteration, { powerItNiter: 3, eps: 1e-6 })
        : checkSpec(o.spectralNormalizer, 'spectralNormalizer')
    ) as ModuleSpec<S>;
    this.orthogonalizer = (
      o.orthogonalizer === undefined
        ? classParam(BatchedBjorckOrthogonalization, { beta: 0.5, niters: 12, passThrough: false })
        : checkSpec(o.orthogonalizer, 'orthogonalizer')
    ) as ModuleSpec<O>;
    Object.freeze(this);
  }

  /**
   * The composed module for weights of `weightShape`: a new spectral
   * normalizer and orthogonalizer (fresh state), each given `options`.
   */
  build(weightShape: WeightShape, options: BuildOptions = {}): OrthoModule<S, O> {
    const ws = checkWeightShape(weightShape);
    const o = checkKeys(options, ['requiresGrad', 'seed', 'precision'], 'build options');
    const overrides: ModuleOptions = {};
    if (o.requiresGrad !== undefined) overrides.requiresGrad = checkBool(o.requiresGrad, 'requiresGrad');
    if (o.seed !== undefined) overrides.seed = checkSeed(o.seed);
    const orthOverrides: ModuleOptions & { precision?: Precision } = { ...overrides };
    if (o.precision !== undefined) {
      const precision = checkPrecision(o.precision);
      const cls = moduleClassOf(this.orthogonalizer);
      // A hand-written factory (no class known) is handed it, to accept or refuse.
      if (!cls || takesPrecision(cls)) orthOverrides.precision = precision;
      else if (precision !== 'fp32')
        throw makeError(
          RangeError,
          ErrorCodes.INVALID_ARG,
          `precision '${precision}' needs an orthogonalizer that iterates matrix products (BatchedBjorckOrthogonalization, BatchedPolarOrthogonalization); this one is ${cls.name}`,
        );
    }
    const sn = instantiate(this.spectralNormalizer, ws, overrides, 'spectralNormalizer') as S;
    const orth = instantiate(this.orthogonalizer, ws, orthOverrides, 'orthogonalizer') as O;
    return composeModule(sn, orth, ws, overrides.requiresGrad ?? false);
  }
}

let composeModule: <S extends ReparamModule, O extends ReparamModule>(
  sn: S,
  orth: O,
  weightShape: readonly number[],
  requiresGrad: boolean,
) => OrthoModule<S, O>;

/**
 * What `OrthoParams#build` returns: `forward = orthogonalizer ∘
 * spectralNormalizer`, and backward runs the chain in reverse. Both halves
 * stay usable on their own, with their concrete types `S` and `O`.
 */
export class OrthoModule<S extends ReparamModule = ReparamModule, O extends ReparamModule = ReparamModule> extends ReparamModule {
  /** The first half (for the default preset, the `BatchedPowerIteration` with `u` and `v`). */
  readonly spectralNormalizer: S;
  /** The second half. */
  readonly orthogonalizer: O;

  static {
    composeModule = (sn, orth, weightShape, requiresGrad) => new OrthoModule(sn, orth, weightShape, requiresGrad);
  }

  // Use OrthoParams.build().
  private constructor(sn: S, orth: O, weightShape: readonly number[], requiresGrad: boolean) {
    for (const [m, what] of [
      [sn, 'spectralNormalizer'],
      [orth, 'orthogonalizer'],
    ] as const) {
      if (m.weightShape.join(',') !== weightShape.join(','))
        throw makeError(
          RangeError,
          ErrorCodes.SHAPE,
          `${what} was built for [${m.weightShape.join(', ')}], not [${weightShape.join(', ')}]`,
        );
    }
    super(binding.createChain(nativeModuleOf(sn), nativeModuleOf(orth), requiresGrad), weightShape, requiresGrad);
    this.spectralNormalizer = sn;
    this.orthogonalizer = orth;
  }
}

/**
 * Power iteration (3 iterations, eps 1e-6) + Björck (β 0.5, 12 iterations):
 * orthogonium's default.
 *
 * ```ts
 * const m = DEFAULT_ORTHO_PARAMS.build([256, 128]);
 * const q = m.forwardSync(Tensor.randn([256, 128]));
 * ```
 */
export const DEFAULT_ORTHO_PARAMS = new OrthoParams<BatchedPowerIteration, BatchedBjorckOrthogonalization>();

/** Power iteration (eps 1e-4) + pass-through Björck: light on memory for training. */
export const BJORCK_PASS_THROUGH_ORTHO_PARAMS = new OrthoParams({
  spectralNormalizer: classParam(BatchedPowerIteration, { powerItNiter: 3, eps: 1e-4 }),
  orthogonalizer: classParam(BatchedBjorckOrthogonalization, { beta: 0.5, niters: 12, passThrough: true }),
});

/** More iterations (power 4, Björck 25) so that tests pass at 1e-4. */
export const DEFAULT_TEST_ORTHO_PARAMS = new OrthoParams({
  spectralNormalizer: classParam(BatchedPowerIteration, { powerItNiter: 4, eps: 1e-4 }),
  orthogonalizer: classParam(BatchedBjorckOrthogonalization, { beta: 0.5, niters: 25 }),
});

/** Power iteration + truncated matrix exponential (12 terms). */
export const EXP_ORTHO_PARAMS = new OrthoParams({
  spectralNormalizer: classParam(BatchedPowerIteration, { powerItNiter: 3, eps: 1e-6 }),
  orthogonalizer: classParam(BatchedExponentialOrthogonalization, { niters: 12 }),
});

/** Power iteration (eps 1e-3) + QR with sign fix. */
export const QR_ORTHO_PARAMS = new OrthoParams({
  spectralNormalizer: classParam(BatchedPowerIteration, { powerItNiter: 3, eps: 1e-3 }),
  orthogonalizer: classParam(BatchedQROrthogonalization),
});

/** Identity + Cholesky: fast, orthogonal to about 5e-5 (may be 1.05-Lipschitz). */
export const CHOLESKY_ORTHO_PARAMS = new OrthoParams({
  spectralNormalizer: BatchedIdentity,
  orthogonalizer: classParam(BatchedCholeskyOrthogonalization),
});

/** Identity + Cholesky that keeps X for its backward. */
export const CHOLESKY_STABLE_ORTHO_PARAMS = new OrthoParams({
  spectralNormalizer: BatchedIdentity,
  orthogonalizer: classParam(BatchedCholeskyOrthogonalization, { stable: true }),
});

/**
 * Identity + the orthogonal polar factor to working precision
 * (BatchedPolarOrthogonalization with its defaults: tol near the dtype's
 * floor, errors on stalled input). No spectral normalizer: the polar
 * scaling is internal. For one-shot orthogonalization (the command line's
 * default); override with `classParam(BatchedPolarOrthogonalization, {...})`.
 * Not one of orthogonium's presets.
 */
export const POLAR_ORTHO_PARAMS = new OrthoParams({
  spectralNormalizer: BatchedIdentity,
  orthogonalizer: classParam(BatchedPolarOrthogonalization),
});

/**
 * The presets by the names the command line uses (`default`,
 * `bjorck-pass-through`, `cholesky`, `cholesky-stable`, `test`, `exp`, `qr`,
 * `polar`). Typed by the generic `OrthoParams`; import a preset by its
 * constant's name for its concrete module types.
 */
export const PRESETS: Readonly<Record<string, OrthoParams>> = Object.freeze({
  default: DEFAULT_ORTHO_PARAMS,
  'bjorck-pass-through': BJORCK_PASS_THROUGH_ORTHO_PARAMS,
  cholesky: CHOLESKY_ORTHO_PARAMS,
  'cholesky-stable': CHOLESKY_STABLE_ORTHO_PARAMS,
  test: DEFAULT_TEST_ORTHO_PARAMS,
  exp: EXP_ORTHO_PARAMS,
  qr: QR_ORTHO_PARAMS,
  polar: POLAR_ORTHO_PARAMS,
});
