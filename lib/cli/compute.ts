// The numeric side of the command line: presets with a one-shot power
// iteration, the device, orthogonalizing and measuring matrices.
import { backends, orthogonalityError, singularValues } from '../diagnostics';
import { ErrorCodes, makeError } from '../errors';
import { BatchedCholeskyOrthogonalization } from '../modules/cholesky';
import { BatchedIdentity } from '../modules/identity';
import { BatchedPolarOrthogonalization } from '../modules/polar';
import { BatchedPowerIteration } from '../modules/power-iteration';
import { type ModuleFactory, OrthoParams, PRESETS, classParam, moduleClassOf, takesPrecision } from '../ortho-params';
import { Tensor } from '../tensor';
import type { Precision } from '../validate';
import type { TensorPlan } from './weights';

/** The preset names, as --params takes them. */
export const PRESET_NAMES: readonly string[] = Object.keys(PRESETS);

/**
 * The command line's default preset: the orthogonal polar factor to working
 * precision. The command line processes weights once, so it converges
 * instead of taking the few steps orthogonium's training presets take per
 * step (those rely on weights that stay near-orthogonal between steps).
 */
export const DEFAULT_PRESET = 'polar';

/**
 * Power iterations per matrix when --power-iters is not given. The presets do
 * 3 or 4 per training step and rely on the estimate of σmax carried over
 * from step to step (warm start); a one-shot run starts from a random vector,
 * so it needs more: the estimate's relative error shrinks like (σ2/σ1)^(2N),
 * 6e-5 after 100 iterations for a 5 % gap. Each iteration is two
 * matrix-vector products (memory-bound: 1.8 s for 100 on a 256 × 65536
 * float32 weight on 2 cores, against 2.5 s for its QR).
 */
export const DEFAULT_POWER_ITERS = 100;

type Matrices = Float32Array | Float64Array;


/** A preset made ready for one-shot use. */
export interface Recipe {
  readonly preset: string;
  readonly params: OrthoParams;
  /** Power iterations per matrix, or null when the preset has no power iteration (the Cholesky presets). */
  readonly powerIters: number | null;
  /** The polar module's tolerance (undefined: the dtype's default), or null when the preset has none. */
  readonly tol: number | undefined | null;
  /**
   * The orthogonalizer makes rows orthonormal (Cholesky: S = X Xᵀ is m × m).
   * A tall matrix cannot have orthonormal rows, so it is handed over
   * transposed and its columns come out orthonormal instead.
   */
  readonly rowsOrthonormal: boolean;
  /** The orthogonalizer's matrix-product arithmetic (--precision). */
  readonly precision: Precision;
  /** Whether the preset's orthogonalizer takes a precision other than fp32 (Björck, polar). */
  readonly takesPrecision: boolean;
}

/**
 * The preset `name`, its power iteration set to `powerIters` iterations when
 * given (else the preset's own count), its polar tolerance to `tol` when
 * given (else the dtype's default).
 */
export function recipeFor(name: string, powerIters?: number, tol?: number, precision: Precision = 'fp32'): Recipe {
  const base = PRESETS[name];
  if (!base) throw new RangeError(`unknown preset '${name}'`);
  const sn = base.spectralNormalizer as ModuleFactory;
  const hasPowerIteration = moduleClassOf(sn) === BatchedPowerIteration;
  const orth = base.orthogonalizer as ModuleFactory;
  const isPolar = moduleClassOf(orth) === BatchedPolarOrthogonalization;
  const own = sn.defaults?.powerItNiter as number | undefined;
  const params = isPolar && tol !== undefined
    ? new OrthoParams({
        spectralNormalizer: BatchedIdentity,
        orthogonalizer: classParam(BatchedPolarOrthogonalization, { ...orth.defaults, tol }),
      })
    : hasPowerIteration && powerIters !== undefined && powerIters !== own
      ? new OrthoParams({
          spectralNormalizer: classParam(BatchedPowerIteration, { ...sn.defaults, powerItNiter: powerIters }),
          orthogonalizer: base.orthogonalizer,
        })
      : base;
  return {
    preset: name,
    params,
    powerIters: hasPowerIteration ? (powerIters ?? own ?? 3) : null,
    tol: isPolar ? tol : null,
    rowsOrthonormal: moduleClassOf(base.orthogonalizer) === BatchedCholeskyOrthogonalization,
    precision,
    takesPrecision: takesPrecision(moduleClassOf(orth)),
  };
}

/** The device for --device: 'auto' is the first CUDA device when CUDA is available, else the CPU. */
export function resolveDevice(requested: string): string {
  const cuda = backends().find((b) => b.name === 'cuda');
  if (requested === 'auto') return cuda?.available ? 'cuda:0' : 'cpu';
  if (requested.startsWith('cuda') && !cuda?.available)
    throw makeError(Error, ErrorCodes.DEVICE, `--device ${requested}: CUDA is unavailable: ${cuda?.reason ?? 'no CUDA backend'}`);
  return requested;
}

/** Transposes each of `batch` rows × cols matrices (out of place). */
export function transposeMatrices<A extends Matrices>(a: A, batch: number, rows: number, cols: number): A {
  const out = new (a.constructor as { new (n: number): A })(a.length);
  const size = rows * cols;
  for (let b = 0; b < batch; b++) {
    const o = b * size;
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[o + j * rows + i] = a[o + i * cols + j];
  }
  return out;
}

type WeightPlan = TensorPlan & { weight: true };

/**
 * The shape `recipe` is given the matrices of `plan` in: transposed (`flip`)
 * when the recipe makes rows orthonormal and the matrices are tall.
 */
export function orientation(recipe: Recipe, plan: WeightPlan): { flip: boolean; shape: readonly number[] } {
  const flip = recipe.rowsOrthonormal && plan.rows > plan.cols;
  return { flip, shape: flip ? [...plan.matrixShape.slice(0, -2), plan.cols, plan.rows] : plan.matrixShape };
}

/** Settings of a computation. */
export interface ComputeOptions {
  readonly device: string;
  /** Fixes the power iteration's start, so that runs are reproducible. */
  readonly seed: number;
}

/**
 * Orthogonalizes the matrices of a weight (values in C order, in the
 * computation dtype) with `recipe`; returns the result in the same layout.
 */
export async function orthogonalizeMatrices(values: Matrices, plan: WeightPlan, recipe: Recipe, opts: ComputeOptions): Promise<Matrices> {
  const { batch, rows, cols } = plan;
  const { flip, shape } = orientation(recipe, plan);
  const input = Tensor.from(flip ? transposeMatrices(values, batch, rows, cols) : values, shape, { device: opts.device });
  let output: Tensor;
  const module = recipe.params.build(shape, { seed: opts.seed, precision: recipe.precision });
  try {
    output = await module.forward(input);
  } finally {
    // Freed as soon as possible: memory peaks at a few copies of one tensor.
    input.dispose();
    module.dispose();
  }
  try {
    const result = output.toTypedArray();
    return flip ? transposeMatrices(result, batch, cols, rows) : result;
  } finally {
    output.dispose();
  }
}

/** Spectral summary of one matrix. */
export interface MatrixStats {
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  /** ‖WᵀW − I‖_F (or ‖WWᵀ − I‖_F for a wide W). */
  readonly orthogonalityError: number;
  /** ‖W‖_F² / σmax² (0 for a zero matrix). */
  readonly stableRank: number;
}

/** Singular-value statistics of each matrix of a weight. */
export async function measureMatrices(values: Matrices, plan: WeightPlan, device: string): Promise<MatrixStats[]> {
  const t = Tensor.from(values, plan.matrixShape, { device });
  try {
    return await measureTensor(t, plan);
  } finally {
    t.dispose();
  }
}

/** Singular-value statistics of each matrix of `t` (shaped as `plan` says, or its transpose). */
export async function measureTensor(t: Tensor, plan: WeightPlan): Promise<MatrixStats[]> {
  let sv: Tensor | undefined;
  let oe: Tensor | undefined;
  try {
    sv = await singularValues(t);
    oe = await orthogonalityError(t);
    const s = sv.toTypedArray();
    const e = oe.toTypedArray();
    const k = Math.min(plan.rows, plan.cols);
    const stats: MatrixStats[] = [];
    for (let b = 0; b < plan.batch; b++) {
      const row = s.subarray(b * k, (b + 1) * k);
      let fro2 = 0;
      for (const x of row) fro2 += x * x;
      const sigmaMax = row[0];
      stats.push({ sigmaMin: row[k - 1], sigmaMax, orthogonalityError: e[b], stableRank: sigmaMax > 0 ? fro2 / (sigmaMax * sigmaMax) : 0 });
    }
    return stats;
  } finally {
    sv?.dispose();
    oe?.dispose();
  }
}
