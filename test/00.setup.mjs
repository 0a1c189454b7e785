// Shared helpers for the test suites (imported, not a spec file).
//
// - DEVICE: the device under test (ORTHO_TEST_DEVICE=cpu|cuda, default cpu).
//   With a GPU, the whole suite runs on it and also compares with the CPU.
// - A small, separate float64 reference in plain JS (matrix products,
//   Cholesky, modified Gram-Schmidt QR, one-sided Jacobi SVD, and each
//   reparametrizer written from its formula), independent of the native code.
// - Finite-difference gradient checks.
import { expect } from 'chai';
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import * as ortho from '../index.mjs';

export { ortho, expect };
export const { Tensor } = ortho;

export const DEVICE = process.env.ORTHO_TEST_DEVICE || 'cpu';
/** False under ORTHO_FUSED=0: every backend's fused kernels off (native/ops/fused.h). */
export const FUSED = process.env.ORTHO_FUSED !== '0';
export const ON_GPU = DEVICE.startsWith('cuda');
export const cudaInfo = ortho.backends().find((b) => b.name === 'cuda');
export const HAVE_CUDA = !!cudaInfo?.available;

if (ON_GPU && !HAVE_CUDA) {
  throw new Error(`ORTHO_TEST_DEVICE=${DEVICE} but CUDA is unavailable: ${cudaInfo?.reason}`);
}

// ---------------------------------------------------------------------------
// Seeded randomness for the reference side (independent of Tensor.randn).

export function rng(seed) {
  let s = (seed >>> 0) || 1;
  const next = () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  return {
    uniform: next,
    normal() {
      const u = Math.max(next(), 1e-12);
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
  };
}

// ---------------------------------------------------------------------------
// Dense float64 matrices: { r, c, a: Float64Array } row-major.

export const M = {
  zeros: (r, c) => ({ r, c, a: new Float64Array(r * c) }),
  eye(r, c = r) {
    const m = M.zeros(r, c);
    for (let i = 0; i < Math.min(r, c); i++) m.a[i * c + i] = 1;
    return m;
  },
  randn(r, c, g) {
    const m = M.zeros(r, c);
    for (let i = 0; i < m.a.length; i++) m.a[i] = g.normal();
    return m;
  },
  get: (m, i, j) => m.a[i * m.c + j],
  t(m) {
    const o = M.zeros(m.c, m.r);
    for (let i = 0; i < m.r; i++) for (let j = 0; j < m.c; j++) o.a[j * m.r + i] = m.a[i * m.c + j];
    return o;
  },
  mul(x, y) {
    if (x.c !== y.r) throw new Error(`mul: ${x.r}x${x.c} by ${y.r}x${y.c}`);
    const o = M.zeros(x.r, y.c);
    for (let i = 0; i < x.r; i++)
      for (let k = 0; k < x.c; k++) {
        const v = x.a[i * x.c + k];
        if (v === 0) continue;
        for (let j = 0; j < y.c; j++) o.a[i * y.c + j] += v * y.a[k * y.c + j];
      }
    return o;
  },
  add(x, y, alpha = 1, beta = 1) {
    const o = M.zeros(x.r, x.c);
    for (let i = 0; i < o.a.length; i++) o.a[i] = alpha * x.a[i] + beta * y.a[i];
    return o;
  },
  scale(x, s) {
    const o = M.zeros(x.r, x.c);
    for (let i = 0; i < o.a.length; i++) o.a[i] = s * x.a[i];
    return o;
  },
  fro: (x) => Math.sqrt(x.a.reduce((s, v) => s + v * v, 0)),
  dot: (x, y) => x.a.reduce((s, v, i) => s + v * y.a[i], 0),
  block(x, r, c) {
    const o = M.zeros(r, c);
    for (let i = 0; i < Math.min(r, x.r); i++) for (let j = 0; j < Math.min(c, x.c); j++) o.a[i * c + j] = x.a[i * x.c + j];
    return o;
  },
  // Lower Cholesky factor (throws if not positive definite).
  chol(s) {
    const n = s.r;
    const L = M.zeros(n, n);
    for (let j = 0; j < n; j++) {
      let d = s.a[j * n + j];
      for (let k = 0; k < j; k++) d -= L.a[j * n + k] ** 2;
      if (!(d > 0)) throw new Error('not positive definite');
      const ljj = Math.sqrt(d);
      L.a[j * n + j] = ljj;
      for (let i = j + 1; i < n; i++) {
        let v = s.a[i * n + j];
        for (let k = 0; k < j; k++) v -= L.a[i * n + k] * L.a[j * n + k];
        L.a[i * n + j] = v / ljj;
      }
    }
    return L;
  },
  // Solves L X = B for lower-triangular L (forward substitution).
  solveLower(L, B) {
    const n = L.r;
    const X = M.zeros(B.r, B.c);
    for (let j = 0; j < B.c; j++)
      for (let i = 0; i < n; i++) {
        let v = B.a[i * B.c + j];
        for (let k = 0; k < i; k++) v -= L.a[i * n + k] * X.a[k * B.c + j];
        X.a[i * B.c + j] = v / L.a[i * n + i];
      }
    return X;
  },
  // Solves L^T X = B for lower-triangular L (back substitution).
  solveLowerT(L, B) {
    const n = L.r;
    const X = M.zeros(B.r, B.c);
    for (let j = 0; j < B.c; j++)
      for (let i = n - 1; i >= 0; i--) {
        let v = B.a[i * B.c + j];
        for (let k = i + 1; k < n; k++) v -= L.a[k * n + i] * X.a[k * B.c + j];
        X.a[i * B.c + j] = v / L.a[i * n + i];
      }
    return X;
  },
  // Modified Gram-Schmidt QR of a tall matrix (m >= n): Q m x n, R n x n with
  // positive diagonal (the unique such factorization of a full-rank matrix).
  qrPositive(A) {
    const { r: m, c: n } = A;
    const Q = M.zeros(m, n);
    const R = M.zeros(n, n);
    const V = Array.from({ length: n }, (_, j) => Float64Array.from({ length: m }, (_, i) => A.a[i * n + j]));
    for (let j = 0; j < n; j++) {
      // two passes of re-orthogonalization for accuracy
      for (let pass = 0; pass < 2; pass++)
        for (let k = 0; k < j; k++) {
          let d = 0;
          for (let i = 0; i < m; i++) d += Q.a[i * n + k] * V[j][i];
          R.a[k * n + j] += d;
          for (let i = 0; i < m; i++) V[j][i] -= d * Q.a[i * n + k];
        }
      const nr = Math.hypot(...V[j]);
      R.a[j * n + j] = nr;
      for (let i = 0; i < m; i++) Q.a[i * n + j] = V[j][i] / nr;
    }
    return { Q, R };
  },
  // Singular values (descending) by one-sided Jacobi on the columns.
  svdvals(A) {
    let X = A.r >= A.c ? A : M.t(A);
    X = { r: X.r, c: X.c, a: Float64Array.from(X.a) };
    const { r: m, c: n } = X;
    for (let sweep = 0; sweep < 60; sweep++) {
      let off = 0;
      for (let p = 0; p < n - 1; p++)
        for (let q = p + 1; q < n; q++) {
          let a = 0, b = 0, g = 0;
          for (let i = 0; i < m; i++) {
            const xp = X.a[i * n + p], xq = X.a[i * n + q];
            a += xp * xp;
            b += xq * xq;
            g += xp * xq;
          }
          if (Math.abs(g) <= 1e-15 * Math.sqrt(a * b)) continue;
          off = Math.max(off, Math.abs(g) / Math.sqrt(a * b));
          const zeta = (b - a) / (2 * g);
          const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
          const c = 1 / Math.sqrt(1 + t * t), s = c * t;
          for (let i = 0; i < m; i++) {
            const xp = X.a[i * n + p], xq = X.a[i * n + q];
            X.a[i * n + p] = c * xp - s * xq;
            X.a[i * n + q] = s * xp + c * xq;
          }
        }
      if (off < 1e-15) break;
    }
    const sv = [];
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < m; i++) s += X.a[i * n + j] ** 2;
      sv.push(Math.sqrt(s));
    }
    return sv.sort((x, y) => y - x);
  },
};

// ---------------------------------------------------------------------------
// Reference reparametrizers (float64, written from the formulas).

export const ref = {
  l2n(x, eps = 1e-8) {
    const n = Math.sqrt(x.reduce((s, v) => s + v * v, 0));
    return x.map((v) => v / (n + eps));
  },
  // Returns { y, u, v } after `niter` iterations from u0, v0 (arrays).
  powerIteration(X, u0, v0, niter, eps) {
    let u = Float64Array.from(u0), v = Float64Array.from(v0);
    const col = (arr) => ({ r: arr.length, c: 1, a: Float64Array.from(arr) });
    for (let i = 0; i < niter; i++) {
      v = ref.l2n(M.mul(M.t(X), col(u)).a);
      u = ref.l2n(M.mul(X, col(v)).a);
    }
    const s = M.mul(M.t(col(u)), M.mul(X, col(v))).a[0];
    return { y: M.scale(X, 1 / (s + eps)), u, v, s };
  },
  bjorck(W, beta, niters) {
    let w = W;
    for (let i = 0; i < niters; i++) {
      const P = W.r >= W.c ? M.mul(w, M.mul(M.t(w), w)) : M.mul(M.mul(w, M.t(w)), w);
      w = M.add(w, P, 1 + beta, -beta);
    }
    return w;
  },
  cholesky(X) {
    const S = M.add(M.mul(X, M.t(X)), M.eye(X.r), 1, 1e-5);
    return M.solveLower(M.chol(S), X);
  },
  exponential(W, niters) {
    const D = Math.max(W.r, W.c);
    const P = M.block(W, D, D);
    const A = M.add(P, M.t(P), 0.5, -0.5);
    let res = M.add(M.eye(D), A);
    let term = A;
    for (let k = 2; k < niters; k++) {
      term = M.scale(M.mul(term, A), 1 / k);
      res = M.add(res, term);
    }
    return M.block(res, W.r, W.c);
  },
  // The orthogonal polar factor U Vᵀ from ml-matrix's SVD (Golub–Kahan),
  // a float64 oracle independent of the native code and of M above.
  polarSvd(W) {
    const rows = [];
    for (let i = 0; i < W.r; i++) rows.push(Array.from(W.a.subarray(i * W.c, (i + 1) * W.c)));
    const svd = new SingularValueDecomposition(new Matrix(rows), { autoTranspose: true });
    const U = svd.leftSingularVectors, V = svd.rightSingularVectors;
    const k = Math.min(W.r, W.c);
    const out = M.zeros(W.r, W.c);
    for (let i = 0; i < W.r; i++)
      for (let j = 0; j < W.c; j++) {
        let s = 0;
        for (let l = 0; l < k; l++) s += U.get(i, l) * V.get(j, l);
        out.a[i * W.c + j] = s;
      }
    return out;
  },
  qr(W) {
    const wide = W.r < W.c;
    const A = wide ? M.t(W) : W;
    const { Q } = M.qrPositive(A); // positive diagonal = sign-fixed Householder Q
    return wide ? M.t(Q) : Q;
  },
};

// ---------------------------------------------------------------------------
// Tensors <-> reference matrices.

export function mats(t) {
  const s = t.shape;
  const r = s[s.length - 2], c = s[s.length - 1];
  const data = t.toTypedArray();
  const out = [];
  for (let b = 0; b < data.length / (r * c); b++) out.push({ r, c, a: Float64Array.from(data.subarray(b * r * c, (b + 1) * r * c)) });
  return out;
}

export function fromMats(list, batchShape, dtype = 'float64', device = DEVICE) {
  const { r, c } = list[0];
  const data = new Float64Array(list.length * r * c);
  list.forEach((m, b) => data.set(m.a, b * r * c));
  return Tensor.from(data, [...batchShape, r, c], { dtype, device });
}

/** A well-conditioned matrix: U diag(s) Vᵀ with s evenly in [lo, hi]. */
export function wellConditioned(r, c, g, lo = 0.4, hi = 1) {
  const k = Math.min(r, c);
  const U = M.qrPositive(M.randn(r, k, g)).Q;
  const V = M.qrPositive(M.randn(c, k, g)).Q;
  const S = M.zeros(k, k);
  for (let i = 0; i < k; i++) S.a[i * k + i] = k === 1 ? hi : hi - ((hi - lo) * i) / (k - 1);
  return M.mul(M.mul(U, S), M.t(V));
}

/** A batch of well-conditioned matrices as a tensor. */
export function wellConditionedTensor(shape, { seed = 1, dtype = 'float64', device = DEVICE, lo, hi } = {}) {
  const g = rng(seed);
  const r = shape[shape.length - 2], c = shape[shape.length - 1];
  const batch = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  const list = Array.from({ length: batch }, () => wellConditioned(r, c, g, lo, hi));
  return fromMats(list, shape.slice(0, -2), dtype, device);
}

/** max |a - b| / max(|b|_inf, floor) over all entries. */
export function relErr(a, b, floor = 1e-30) {
  const x = a instanceof Float32Array || a instanceof Float64Array ? a : a.a ?? a;
  const y = b instanceof Float32Array || b instanceof Float64Array ? b : b.a ?? b;
  if (x.length !== y.length) throw new Error(`relErr: lengths ${x.length} vs ${y.length}`);
  let num = 0, den = floor;
  for (let i = 0; i < x.length; i++) {
    num = Math.max(num, Math.abs(x[i] - y[i]));
    den = Math.max(den, Math.abs(y[i]));
  }
  return num / den;
}

export function expectClose(actual, expected, tol, what = '') {
  const e = relErr(actual, expected);
  expect(e, `${what} relative error ${e.toExponential(2)} > ${tol}`).to.be.at.most(tol);
}

export const SHAPES = [
  [6, 4], // tall
  [5, 5], // square
  [3, 7], // wide
  [2, 3, 5, 4], // two batch dims, tall
  [4, 3, 6], // batch, wide
];

export function shapeName(s) {
  return `[${s.join(',')}]`;
}

/** Expects fn() to throw (or a promise to reject) with this code. */
export async function expectCode(fn, code, Ctor) {
  let err;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected an error with code ${code}`).to.be.instanceOf(Error);
  expect(err.code, `code of: ${err.message}`).to.equal(code);
  if (Ctor) expect(err).to.be.instanceOf(Ctor);
  expect(err.message.length).to.be.greaterThan(10);
  return err;
}

/**
 * Finite-difference check of a VJP. f(x) -> Tensor (deterministic);
 * vjp(x, g) -> Tensor. Checks <vjp(g), d> against (f(x+hd) - f(x-hd))·g / 2h
 * for a few random directions d. Returns the worst relative error.
 */
export function fdCheck({ x, f, vjp, seed = 7, h = 1e-6, directions = 3 }) {
  const g = rng(seed);
  const xs = x.toTypedArray();
  const shape = x.shape;
  const y0 = f(x);
  const G = Float64Array.from({ length: y0.size }, () => g.normal());
  const Gt = Tensor.from(G, y0.shape, { dtype: x.dtype, device: x.device });
  const grad = vjp(x, Gt).toTypedArray();
  let worst = 0;
  for (let k = 0; k < directions; k++) {
    const d = Float64Array.from({ length: xs.length }, () => g.normal());
    const plus = Tensor.from(xs.map((v, i) => v + h * d[i]), shape, { dtype: 'float64', device: x.device });
    const minus = Tensor.from(xs.map((v, i) => v - h * d[i]), shape, { dtype: 'float64', device: x.device });
    const fp = f(plus).toTypedArray(), fm = f(minus).toTypedArray();
    let num = 0;
    for (let i = 0; i < G.length; i++) num += (G[i] * (fp[i] - fm[i])) / (2 * h);
    let ana = 0;
    for (let i = 0; i < d.length; i++) ana += grad[i] * d[i];
    const e = Math.abs(num - ana) / Math.max(Math.abs(num), Math.abs(ana), 1e-8);
    worst = Math.max(worst, e);
  }
  return worst;
}

/**
 * fdCheck of a module's backward: make(opts) builds the module; one copy
 * with requiresGrad runs forward + backward, a second one is the function.
 */
export function moduleFdError(make, x, directions = 3) {
  const m = make({ requiresGrad: true });
  const probe = make({});
  return fdCheck({ x, f: (v) => probe.forwardSync(v), vjp: (v, g) => (m.forwardSync(v), m.backwardSync(g)), directions });
}

/**
 * The preset's chain with the power iteration frozen at m's state (0
 * iterations from m's u and v), so that finite differences see the same
 * function m's backward differentiates. Presets without a power iteration
 * are rebuilt as they are.
 */
export function fixedChain(preset, m, shape) {
  const { BatchedPowerIteration, OrthoParams, classParam } = ortho;
  const sn = m.spectralNormalizer;
  if (!(sn instanceof BatchedPowerIteration)) return preset.build(shape);
  const fixed = new OrthoParams({
    spectralNormalizer: classParam(BatchedPowerIteration, { powerItNiter: 0, eps: sn.eps }),
    orthogonalizer: preset.orthogonalizer,
  }).build(shape);
  fixed.spectralNormalizer.u = sn.u;
  fixed.spectralNormalizer.v = sn.v;
  return fixed;
}

/** Forward of a fresh module per device (for expectCpuParity). */
export function forwardOn(Cls, shape, opts, x) {
  return (device) => new Cls(shape, opts).forwardSync(x.to(device));
}

/** Runs make(device) on DEVICE and, when that is a GPU, on the CPU too, and
 *  expects the same values (float64 to 1e-10, float32 to 1e-4 relative). */
export function expectCpuParity(run, dtype, what = '', float32Tol = 1e-4) {
  const out = run(DEVICE).toTypedArray();
  if (ON_GPU) {
    const cpu = run('cpu').toTypedArray();
    expectClose(out, cpu, dtype === 'float64' ? 1e-10 : float32Tol, `${what} GPU vs CPU`);
  }
  return out;
}
