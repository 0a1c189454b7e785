// Factory for the ml-matrix anchor (pure JS, what Node users pick): the same
// algorithms as native/ops, one matrix at a time (ml-matrix has no batches),
// in JS numbers (float64) whatever the trial's dtype.
//
// What each op uses: mmul, transpose, add/sub/mul/div for the iterations;
// CholeskyDecomposition then solve(L, X) (ml-matrix has no triangular solve;
// solve() factors L by LU) for Cholesky; QrDecomposition (Householder) with
// the sign fix applied by hand for QR.
import { CholeskyDecomposition, Matrix, QrDecomposition, solve } from 'ml-matrix';

/** randn / ||.||_F per matrix, from a small deterministic generator. */
function makeInputs(b, m, n, seed) {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  const out = [];
  for (let i = 0; i < b; i++) {
    const x = Matrix.from1DArray(m, n, Array.from({ length: m * n }, normal));
    out.push(x.div(x.norm('frobenius')));
  }
  return out;
}

const l2n = (v) => v.div(v.norm('frobenius') + 1e-8);

function powerIteration(spec, m, n, seed) {
  const [u0] = makeInputs(1, m, 1, seed);
  const [v0] = makeInputs(1, n, 1, seed + 1);
  let u = u0;
  let v = v0;
  return (x) => {
    for (let it = 0; it < spec.powerItNiter; it++) {
      v = l2n(x.transpose().mmul(u));
      u = l2n(x.mmul(v));
    }
    const s = u.transpose().mmul(x.mmul(v)).get(0, 0);
    return Matrix.div(x, s + spec.eps);
  };
}

function bjorck(spec) {
  const steps = spec.niters + (spec.passThrough ? 1 : 0);
  return (x) => {
    let w = x;
    for (let i = 0; i < steps; i++) {
      const p = w.rows >= w.columns ? w.mmul(w.transpose().mmul(w)) : w.mmul(w.transpose()).mmul(w);
      w = Matrix.mul(w, 1 + spec.beta).sub(p.mul(spec.beta));
    }
    return w;
  };
}

function cholesky() {
  return (x) => {
    const s = x.mmul(x.transpose()).add(Matrix.eye(x.rows).mul(1e-5));
    const l = new CholeskyDecomposition(s).lowerTriangularMatrix;
    return solve(l, x);
  };
}

function exponential(spec) {
  const K = Math.max(spec.niters, 2);
  return (x) => {
    const d = Math.max(x.rows, x.columns);
    let p = x;
    if (x.rows !== x.columns) {
      p = Matrix.zeros(d, d);
      p.setSubMatrix(x, 0, 0);
    }
    const a = Matrix.sub(p, p.transpose()).mul(0.5);
    const eye = Matrix.eye(d);
    let h = Matrix.mul(a, 1 / (K - 1)).add(eye);
    for (let j = K - 2; j >= 1; j--) h = a.mmul(h).mul(1 / j).add(eye);
    return x.rows === x.columns ? h : h.subMatrix(0, x.rows - 1, 0, x.columns - 1);
  };
}

function qr() {
  return (x) => {
    const wide = x.rows < x.columns;
    const a = wide ? x.transpose() : x;
    const f = new QrDecomposition(a);
    const q = f.orthogonalMatrix;
    const r = f.upperTriangularMatrix;
    for (let j = 0; j < q.columns; j++) {
      const d = r.get(j, j);
      const s = d > 0 ? 1 : d < 0 ? -1 : 0;
      if (s !== 1) q.mulColumn(j, s);
    }
    return wide ? q.transpose() : q;
  };
}

function perMatrix(spec, m, n, seed) {
  switch (spec.kind) {
    case 'power_iteration':
      return powerIteration(spec, m, n, seed);
    case 'bjorck':
      return bjorck(spec);
    case 'cholesky':
      return cholesky();
    case 'exponential':
      return exponential(spec);
    case 'qr':
      return qr();
    case 'identity':
      return (x) => x;
    default:
      throw new Error(`ml-matrix factory: no per-matrix op ${spec.kind}`);
  }
}

/**
 * trial -> { fn, batchUsed } timing the first `batchUsed` matrices (the
 * child scales by B / batchUsed; see ML_MATRIX_BUDGET_S in trials.mjs).
 */
export function create(trial, batchUsed = trial.shape[0]) {
  const [, m, n] = trial.shape;
  const xs = makeInputs(batchUsed, m, n, 1234);
  if (trial.spec.kind === 'l2normalize') {
    // over all dims of the batch: one norm for everything
    return {
      fn: () => {
        let s = 0;
        for (const x of xs) s += x.norm('frobenius') ** 2;
        const c = 1 / (Math.sqrt(s) + 1e-8);
        return xs.map((x) => Matrix.mul(x, c));
      },
    };
  }
  const specs = trial.spec.modules ?? [trial.spec];
  // one state (power iteration u, v) per matrix, as the batched modules keep
  const chains = xs.map((_, i) => specs.map((s) => perMatrix(s, m, n, 99 + 2 * i)));
  return {
    fn: () =>
      xs.map((x, i) => {
        let y = x;
        for (const f of chains[i]) y = f(y);
        return y;
      }),
  };
}

export async function versions() {
  const { readFileSync } = await import('node:fs');
  const { createRequire } = await import('node:module');
  // ml-matrix's "exports" hides its package.json: read it beside the entry.
  const entry = createRequire(import.meta.url).resolve('ml-matrix');
  let dir = entry;
  for (let i = 0; i < 4; i++) {
    dir = dir.slice(0, dir.lastIndexOf('/'));
    try {
      const pkg = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8'));
      if (pkg.name === 'ml-matrix') return { 'ml-matrix': pkg.version };
    } catch {
      /* keep looking */
    }
  }
  return { 'ml-matrix': 'unknown' };
}
