// The benchmark trials, declared as data. bench/run.mjs expands them into
// one child process per (trial, implementation); the factories in
// bench/factories/ (and bench/anchors/numpy_anchor.py for numpy) turn one
// trial into the hot closure that gets timed.
//
// A trial: { id, op, group: 'preset' | 'module', pass: 'forward' | 'backward',
//            shape: [batch, m, n], dtype, spec, impls: [...] }
// `spec` is the op's exact settings, shared by every implementation: for a
// preset, its two modules in order ({ modules: [normalizer, orthogonalizer] });
// for a module, its kind and options (orthogonium's defaults).
//
// Inputs (every implementation builds the same kind): standard normal values
// divided by each matrix's Frobenius norm, so the spectral norm is <= 1 (what
// the orthogonalizers expect after a spectral normalizer, and what keeps
// X X^T + 1e-5 I positive definite in float32 for Cholesky on tall shapes).
// Backward trials time backward() alone, after one recorded forward, with a
// gradient of the same kind.

/** [batch, m, n] */
export const SIZES = [
  [1, 1024, 1024],
  [64, 256, 256],
  [4096, 32, 32],
  [16, 512, 128],
  [16, 128, 512],
];

export const DTYPES = ['float32', 'float64'];

/** orthogonium's presets with their exact settings (lib/ortho-params.ts). */
export const PRESETS = {
  default: [
    { kind: 'power_iteration', powerItNiter: 3, eps: 1e-6 },
    { kind: 'bjorck', beta: 0.5, niters: 12, passThrough: false },
  ],
  'bjorck-pass-through': [
    { kind: 'power_iteration', powerItNiter: 3, eps: 1e-4 },
    { kind: 'bjorck', beta: 0.5, niters: 12, passThrough: true },
  ],
  test: [
    { kind: 'power_iteration', powerItNiter: 4, eps: 1e-4 },
    { kind: 'bjorck', beta: 0.5, niters: 25, passThrough: false },
  ],
  exp: [
    { kind: 'power_iteration', powerItNiter: 3, eps: 1e-6 },
    { kind: 'exponential', niters: 12 },
  ],
  qr: [{ kind: 'power_iteration', powerItNiter: 3, eps: 1e-3 }, { kind: 'qr' }],
  cholesky: [{ kind: 'identity' }, { kind: 'cholesky', stable: false }],
  'cholesky-stable': [{ kind: 'identity' }, { kind: 'cholesky', stable: true }],
};

/** Each module alone, with the module's own defaults (named by class, so
 * that module ids never collide with the lower-case preset names). */
export const MODULES = {
  L2Normalize: { kind: 'l2normalize' }, // over all dims
  BatchedPowerIteration: { kind: 'power_iteration', powerItNiter: 3, eps: 1e-12 },
  BatchedIdentity: { kind: 'identity' },
  BatchedBjorckOrthogonalization: { kind: 'bjorck', beta: 0.5, niters: 12, passThrough: false },
  BatchedCholeskyOrthogonalization: { kind: 'cholesky', stable: false },
  BatchedExponentialOrthogonalization: { kind: 'exponential', niters: 12 },
  BatchedQROrthogonalization: { kind: 'qr' },
};

/** Presets whose backward is timed too. */
export const BACKWARD_PRESETS = ['default', 'bjorck-pass-through', 'cholesky'];

// ---------------------------------------------------------------------------
// Flop counts: the arithmetic of the algorithm as native/ops performs it,
// the same count for every implementation (so GFLOP/s compare times). For a
// batch of B matrices m x n, k = min(m, n), M = max(m, n):
//   Gram (syrk)      op(A) op(A)^T of an r x c op(A): c * r * (r + 1)
//                    (r (r + 1) / 2 entries, 2c flops each; numpy's matmul
//                    also calls syrk for w^T @ w)
//   GEMM             (r x c)(c x s): 2 r c s
//   triangular solve r x r triangle, s right-hand sides: r^2 s
//   Cholesky         r^3 / 3
//   Householder QR   M x k, Q formed: 4 M k^2 - 4 k^3 / 3 (LAPACK geqrf +
//                    orgqr counts)
// Element-wise work counts one flop per element and operation.
//   l2normalize       3 B m n
//   power iteration   (t iterations) B (t (4 m n + 3 m + 3 n) + 3 m n + 2 m)
//   identity          0
//   Bjorck            (s steps; s = niters, + 1 with passThrough)
//                     B s (M k (k + 1) + k + 2 M k^2)
//   Cholesky          B (n m (m + 1) + m + m^3 / 3 + m^2 n)
//   exponential       (K = max(niters, 2) terms, D = M, degree d = K - 1)
//                     skew projection 3 D^2 + 2 D^2, then the series:
//                     forward (no requiresGrad, as every forward trial
//                     runs): Paterson-Stockmeyer with block s and
//                     r = floor(d / s), g = (s - 1) + r GEMMs, d - r
//                     scaled additions and r + 1 diagonal additions:
//                     B (5 D^2 + 2 g D^3 + 2 (d - r) D^2 + (r + 1) D);
//                     where that saves nothing (K <= 4), and with
//                     requiresGrad, Horner: B (5 D^2 + (K - 2) (2 D^3 + D))
//   QR                B (4 M k^2 - 4 k^3 / 3 + M k)
// Backward:
//   power iteration   B (6 m n + 3)
//   identity          0
//   Bjorck step       B (6 M k^2 + 2 k^2), recorded steps only (niters, or
//                     1 with passThrough), the Gram kept by the forward;
//                     + B (M k (k + 1) + k) where the CPU's small-matrix
//                     kernels recompute it instead (8 <= k <= 64, M <= 256)
//   Cholesky          B (5 m^2 n + 3 m^3)  (solves m^2 n and m^3, GEMMs
//                     2 m^2 n, 2 m^3 and 2 m^2 n; stable: + m^3 solve)
// ---------------------------------------------------------------------------

// The block size of native/ops/exponential.cpp: fewest GEMMs for degree d.
function patersonStockmeyerBlock(d) {
  let best = { s: 1, gemms: d };
  for (let s = 2; s <= d; s++) {
    const gemms = s - 1 + Math.floor(d / s);
    if (gemms < best.gemms) best = { s, gemms };
  }
  return best;
}

function moduleFlops(s, pass, [B, m, n]) {
  const k = Math.min(m, n);
  const M = Math.max(m, n);
  const fwd = pass !== 'backward'; // forward, or async-xN (N forward calls)
  switch (s.kind) {
    case 'l2normalize':
      return fwd ? 3 * B * m * n : 5 * B * m * n;
    case 'identity':
      return 0;
    case 'power_iteration': {
      const t = s.powerItNiter;
      return fwd ? B * (t * (4 * m * n + 3 * m + 3 * n) + 3 * m * n + 2 * m) : B * (6 * m * n + 3);
    }
    case 'bjorck': {
      const step = M * k * (k + 1) + k + 2 * M * k * k;
      if (fwd) return B * (s.niters + (s.passThrough ? 1 : 0)) * step;
      // The CPU keeps each recorded step's Gram outside its small-matrix
      // kernels (BjorckKernels::keepsGram) and recomputes it within.
      const recomputes = k >= 8 && k <= 64 && M <= 256;
      const back = (recomputes ? M * k * (k + 1) + k : 0) + 6 * M * k * k + 2 * k * k;
      return B * (s.passThrough ? 1 : s.niters) * back;
    }
    case 'cholesky':
      if (fwd) return B * (n * m * (m + 1) + m + (m * m * m) / 3 + m * m * n);
      return B * (5 * m * m * n + 3 * m * m * m + (s.stable ? m * m * m : 0));
    case 'exponential': {
      const K = Math.max(s.niters, 2);
      const D = M;
      const horner = B * (5 * D * D + (K - 2) * (2 * D * D * D + D));
      const d = K - 1;
      const ps = patersonStockmeyerBlock(d);
      if (!fwd || d - 1 <= ps.gemms) return horner;
      const r = Math.floor(d / ps.s);
      return B * (5 * D * D + 2 * ps.gemms * D * D * D + 2 * (d - r) * D * D + (r + 1) * D);
    }
    case 'qr':
      return B * (4 * M * k * k - (4 * k * k * k) / 3 + M * k);
    default:
      throw new Error(`no flop count for ${s.kind}`);
  }
}

/** Flops of one call of the trial's pass. */
export function flopsOf(trial) {
  const specs = trial.spec.modules ?? [trial.spec];
  return specs.reduce((sum, s) => sum + moduleFlops(s, trial.pass, trial.shape), 0);
}

// ---------------------------------------------------------------------------
// Which implementations run each trial, and how long each may take.

/** Implementations: ours, then the anchors. */
export const IMPLS = {
  orthogonium: { label: 'ours', kind: 'node', factory: 'orthogonium' },
  numpy: { label: 'numpy', kind: 'python', script: 'anchors/numpy_anchor.py' },
  'ml-matrix': { label: 'ml-matrix', kind: 'node', factory: 'ml-matrix' },
};

/**
 * ml-matrix has no batched API: a user loops over the matrices. Its child
 * times the loop over the first `b` matrices of the batch, with b the
 * largest count whose measured runs fit `ML_MATRIX_BUDGET_S`, and reports
 * the time scaled by B / b (flagged `scaled` in the results). Where one
 * matrix alone takes longer than a minute the trial is skipped.
 */
export const ML_MATRIX_BUDGET_S = 60;

/** Timing: warm-up calls, then repeated timed calls (median reported). */
export const TIMING = {
  full: { minWarmup: 1, warmupS: 0.3, minReps: 5, maxReps: 11, budgetS: 2 },
  quick: { minWarmup: 1, warmupS: 0.1, minReps: 3, maxReps: 7, budgetS: 1 },
};

/** The GEMM ceiling: the backend's batched GEMM at these sizes; the best counts. */
export const CEILING_SIZES = [
  [1, 1024, 1024, 1024],
  [1, 2048, 2048, 2048],
  [4, 512, 512, 512],
  [64, 256, 256, 256],
  [512, 128, 128, 128],
];

/** Concurrency trial: this many async forward() calls at once on separate modules. */
export const ASYNC_CONCURRENCY = 4;

function trialsFor(group, op, spec, passes) {
  const out = [];
  for (const pass of passes)
    for (const shape of SIZES)
      for (const dtype of DTYPES) {
        const impls = ['orthogonium', 'numpy'];
        if (pass === 'forward') impls.push('ml-matrix');
        out.push({ id: `${op}/${pass}/${shape.join('x')}/${dtype}`, op, group, pass, shape, dtype, spec, impls });
      }
  return out;
}

/** Every trial, presets first. */
export const TRIALS = [
  ...Object.entries(PRESETS).flatMap(([name, modules]) =>
    trialsFor('preset', name, { modules }, BACKWARD_PRESETS.includes(name) ? ['forward', 'backward'] : ['forward']),
  ),
  ...Object.entries(MODULES).flatMap(([name, spec]) => trialsFor('module', name, spec, ['forward'])),
];

/** Extra trials: several async forward() calls at once (ours only). */
export const ASYNC_TRIALS = [[64, 256, 256], [4096, 32, 32]].map((shape) => ({
  id: `default/async-x${ASYNC_CONCURRENCY}/${shape.join('x')}/float32`,
  op: 'default',
  group: 'preset',
  pass: `async-x${ASYNC_CONCURRENCY}`,
  shape,
  dtype: 'float32',
  spec: { modules: PRESETS.default },
  impls: ['orthogonium'],
}));

// ---------------------------------------------------------------------------
// Targets (issue 5), float32, as ratios from one run. `anchor` null: the
// ratio is to the GEMM ceiling. `max`: time ratio ours / anchor must stay
// at or below it; `min`: the ceiling fraction must reach it.

export const TARGETS = [
  { op: 'default', shape: [64, 256, 256], anchor: null, min: 0.7, what: '>= 70% of the GEMM ceiling' },
  { op: 'default', shape: [64, 256, 256], anchor: 'numpy', max: 0.7, what: "<= 0.7x numpy's time" },
  { op: 'default', shape: [4096, 32, 32], anchor: 'numpy', max: 1 / 3, what: '>= 3x faster than numpy' },
  ...SIZES.map((shape) => ({ op: 'qr', shape, anchor: 'numpy', max: 0.8, what: "<= 0.8x numpy's time" })),
  ...SIZES.map((shape) => ({ op: 'cholesky', shape, anchor: 'numpy', max: 0.5, what: "<= 0.5x numpy's time" })),
  ...SIZES.map((shape) => ({ op: 'exp', shape, anchor: 'numpy', max: 0.8, what: "<= 0.8x numpy's time" })),
  ...Object.keys(MODULES).map((op) => ({
    op,
    shape: [64, 256, 256],
    anchor: 'ml-matrix',
    max: 1 / 50,
    what: '>= 50x faster than ml-matrix',
  })),
];
