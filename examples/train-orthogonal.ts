// Learning an orthogonal map by gradient descent through DEFAULT_ORTHO_PARAMS.
//
// The orthogonal Procrustes problem: given A (n x k) and B = Q A for a hidden
// orthogonal Q, find the orthogonal W minimizing ½‖W A − B‖²_F. W is
// parametrized as W = ortho(V) (power iteration, then Björck); the loss's
// gradient with respect to W flows back to V through module.backward().
//
//   npm run example:train            # n = 32, 600 steps
//   node examples/build/train-orthogonal.js --n 16 --steps 200
import { DEFAULT_ORTHO_PARAMS, Tensor, orthogonalityErrorSync } from 'orthogonium-node';

export interface TrainOptions {
  /** Matrix size n (W is n x n). Defaults to 32. */
  n?: number;
  /** Number of samples k (columns of A). Defaults to 2n. */
  k?: number;
  /** Gradient steps. Defaults to 600. */
  steps?: number;
  /** Learning rate. Defaults to 1. */
  lr?: number;
  /** Momentum. Defaults to 0.9. */
  momentum?: number;
  /** Seed of the problem and of the power iteration. Defaults to 1. */
  seed?: number;
  /** Called every `logEvery` steps. Defaults to printing to stdout. */
  log?: (step: number, loss: number) => void;
  /** Defaults to 50. */
  logEvery?: number;
}

export interface TrainResult {
  losses: number[];
  initialLoss: number;
  finalLoss: number;
  /** ‖WᵀW − I‖_F of the learned W. */
  orthogonalityError: number;
  /** ‖W − Q‖_F / √n. */
  distanceToQ: number;
}

// Small dense helpers on row-major Float64Arrays (the example's own math).
function matmul(a: Float64Array, b: Float64Array, n: number, inner: number, m: number, transB = false): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let p = 0; p < inner; p++) {
      const v = a[i * inner + p];
      for (let j = 0; j < m; j++) out[i * m + j] += v * (transB ? b[j * inner + p] : b[p * m + j]);
    }
  return out;
}

/** A random orthogonal matrix (Gram-Schmidt on a seeded Gaussian matrix). */
function randomOrthogonal(n: number, seed: number): Float64Array {
  const g = Tensor.randn([n, n], { seed, dtype: 'float64' }).toTypedArray();
  const q = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const v = Float64Array.from({ length: n }, (_, i) => g[i * n + j]);
    for (let pass = 0; pass < 2; pass++)
      for (let k = 0; k < j; k++) {
        let d = 0;
        for (let i = 0; i < n; i++) d += q[i * n + k] * v[i];
        for (let i = 0; i < n; i++) v[i] -= d * q[i * n + k];
      }
    const norm = Math.hypot(...v);
    for (let i = 0; i < n; i++) q[i * n + j] = v[i] / norm;
  }
  return q;
}

/** Sign of det(M) by Gaussian elimination with partial pivoting. */
function detSign(m: Float64Array, n: number): number {
  const a = Float64Array.from(m);
  let sign = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]) > Math.abs(a[p * n + c])) p = r;
    if (a[p * n + c] === 0) return 0;
    if (p !== c) {
      sign = -sign;
      for (let j = 0; j < n; j++) [a[c * n + j], a[p * n + j]] = [a[p * n + j], a[c * n + j]];
    }
    if (a[c * n + c] < 0) sign = -sign;
    for (let r = c + 1; r < n; r++) {
      const f = a[r * n + c] / a[c * n + c];
      for (let j = c; j < n; j++) a[r * n + j] -= f * a[c * n + j];
    }
  }
  return sign;
}

export async function train(options: TrainOptions = {}): Promise<TrainResult> {
  const n = options.n ?? 32;
  const k = options.k ?? 2 * n;
  const steps = options.steps ?? 600;
  const lr = options.lr ?? 1;
  const momentum = options.momentum ?? 0.9;
  const seed = options.seed ?? 1;
  const logEvery = options.logEvery ?? 50;
  const log = options.log ?? ((s, l) => console.log(`step ${String(s).padStart(4)}  loss ${l.toExponential(3)}`));

  const V = Tensor.randn([n, n], { seed: seed + 2, dtype: 'float64' }).toTypedArray();
  const Q = randomOrthogonal(n, seed);
  // The orthogonalization is continuous, so W keeps the sign of det(V): the
  // hidden Q must lie in the same component of the orthogonal group as the
  // start, else the best reachable W is Q times a reflection.
  if (detSign(Q, n) !== detSign(V, n)) for (let i = 0; i < n; i++) Q[i * n] = -Q[i * n];
  const A = Tensor.randn([n, k], { seed: seed + 1, dtype: 'float64' }).toTypedArray();
  const B = matmul(Q, A, n, n, k);
  const velocity = new Float64Array(n * n);

  const param = DEFAULT_ORTHO_PARAMS.build([n, n], { requiresGrad: true, seed });
  const losses: number[] = [];
  let W: Float64Array = new Float64Array(n * n);
  for (let step = 0; step <= steps; step++) {
    const w = await param.forward(Tensor.from(V, [n, n]));
    W = w.toTypedArray();
    w.dispose();
    // loss = ½‖WA − B‖², dL/dW = (WA − B) Aᵀ, scaled by 1/k
    const R = matmul(W, A, n, n, k);
    let loss = 0;
    for (let i = 0; i < R.length; i++) {
      R[i] -= B[i];
      loss += (0.5 * R[i] * R[i]) / k;
    }
    losses.push(loss);
    if (step % logEvery === 0 || step === steps) log(step, loss);
    if (step === steps) break;
    const gW = matmul(R, A, n, k, n, true).map((v) => v / k);
    const gV = await param.backward(Tensor.from(gW, [n, n]));
    const g = gV.toTypedArray();
    gV.dispose();
    for (let i = 0; i < V.length; i++) {
      velocity[i] = momentum * velocity[i] - lr * g[i];
      V[i] += velocity[i];
    }
  }
  const orthErr = orthogonalityErrorSync(Tensor.from(W, [n, n])).toTypedArray()[0];
  let dist = 0;
  for (let i = 0; i < W.length; i++) dist += (W[i] - Q[i]) ** 2;
  param.dispose();
  return {
    losses,
    initialLoss: losses[0],
    finalLoss: losses[losses.length - 1],
    orthogonalityError: orthErr,
    distanceToQ: Math.sqrt(dist / n),
  };
}

if (require.main === module) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  train({ n: arg('n'), steps: arg('steps'), lr: arg('lr') }).then((r) => {
    console.log(`loss ${r.initialLoss.toExponential(3)} -> ${r.finalLoss.toExponential(3)}`);
    console.log(`orthogonality error ‖WᵀW − I‖_F = ${r.orthogonalityError.toExponential(3)}`);
    console.log(`distance to the hidden Q ‖W − Q‖_F/√n = ${r.distanceToQ.toExponential(3)}`);
  });
}
