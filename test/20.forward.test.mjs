// Forward passes of every module and preset, on DEVICE, in both dtypes and
// on tall, square, wide and batched shapes, against the float64 reference
// in 00.setup.mjs and against mathematical identities.
import os from 'node:os';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  DEVICE, M, SHAPES, Tensor, expect, expectClose, expectCode, expectCpuParity, forwardOn, fromMats, mats, ortho, ref, rng,
  shapeName, wellConditionedTensor,
} from './00.setup.mjs';

const {
  BatchedBjorckOrthogonalization, BatchedCholeskyOrthogonalization, BatchedExponentialOrthogonalization,
  BatchedIdentity, BatchedPowerIteration, BatchedQROrthogonalization, L2Normalize, ErrorCodes,
} = ortho;

const DTYPES = ['float64', 'float32'];
const TOL = { float64: 1e-10, float32: 1e-4 };

describe('BatchedBjorckOrthogonalization#forward()', function () {
  for (const dtype of DTYPES)
    for (const shape of SHAPES) {
      it(`matches the reference (beta 0.5, 12 iterations) on ${shapeName(shape)} ${dtype}`, function () {
        const x = wellConditionedTensor(shape, { seed: 3, dtype });
        const y = expectCpuParity(forwardOn(BatchedBjorckOrthogonalization, shape, {}, x), dtype, 'bjorck');
        const want = mats(x).flatMap((w) => Array.from(ref.bjorck(w, 0.5, 12).a));
        expectClose(y, want, TOL[dtype], 'bjorck');
      });
    }

  it('honours beta and niters, and reaches WᵀW = I with enough iterations', function () {
    for (const shape of [[7, 4], [4, 7], [5, 5]]) {
      const x = wellConditionedTensor([2, ...shape], { seed: 5 });
      const y3 = new BatchedBjorckOrthogonalization([2, ...shape], { beta: 0.3, niters: 3 }).forwardSync(x);
      expectClose(y3.toTypedArray(), mats(x).flatMap((w) => Array.from(ref.bjorck(w, 0.3, 3).a)), 1e-12, 'beta 0.3');
      const y = new BatchedBjorckOrthogonalization([2, ...shape], { niters: 40 }).forwardSync(x);
      for (const w of mats(y)) {
        const k = Math.min(w.r, w.c);
        const G = w.r >= w.c ? M.mul(M.t(w), w) : M.mul(w, M.t(w));
        expect(M.fro(M.add(G, M.eye(k), 1, -1))).to.be.below(1e-12);
      }
    }
  });

  it('with passThrough runs niters + 1 iterations', function () {
    const x = wellConditionedTensor([6, 4], { seed: 9 });
    const y = new BatchedBjorckOrthogonalization([6, 4], { niters: 4, passThrough: true }).forwardSync(x);
    expectClose(y.toTypedArray(), ref.bjorck(mats(x)[0], 0.5, 5).a, 1e-12, 'pass-through');
  });

  it('with niters 0 returns a copy of the input', function () {
    const x = Tensor.randn([3, 3], { seed: 1, device: DEVICE });
    const y = new BatchedBjorckOrthogonalization([3, 3], { niters: 0 }).forwardSync(x);
    expect(Array.from(y.toTypedArray())).to.deep.equal(Array.from(x.toTypedArray()));
  });
});

describe('BatchedPowerIteration#forward()', function () {
  for (const dtype of DTYPES)
    for (const shape of SHAPES) {
      it(`matches the reference from its initial state on ${shapeName(shape)} ${dtype}`, function () {
        const x = Tensor.randn(shape, { seed: 11, dtype, device: DEVICE });
        // The initial state in the input's dtype: a module with the same seed
        // that has seen the input without iterating.
        const probe = new BatchedPowerIteration(shape, { seed: 5, powerItNiter: 0 });
        probe.forwardSync(x);
        const u0 = mats(probe.u), v0 = mats(probe.v);
        const m = new BatchedPowerIteration(shape, { seed: 5, eps: 1e-6 });
        const y = m.forwardSync(x);
        if (DEVICE !== 'cpu') {
          const c = new BatchedPowerIteration(shape, { seed: 5, eps: 1e-6 }).forwardSync(x.to('cpu'));
          expectClose(y.toTypedArray(), c.toTypedArray(), TOL[dtype], 'power iteration GPU vs CPU');
        }
        const xs = mats(x);
        const want = xs.map((X, b) => ref.powerIteration(X, u0[b].a, v0[b].a, 3, 1e-6));
        expectClose(y.toTypedArray(), want.flatMap((r) => Array.from(r.y.a)), TOL[dtype], 'output');
        expectClose(m.u.toTypedArray(), want.flatMap((r) => Array.from(r.u)), TOL[dtype] * 10, 'u');
        expectClose(m.v.toTypedArray(), want.flatMap((r) => Array.from(r.v)), TOL[dtype] * 10, 'v');
        expect(m.u.shape).to.deep.equal([...shape.slice(0, -2), shape.at(-2), 1]);
        expect(m.v.shape).to.deep.equal([...shape.slice(0, -2), shape.at(-1), 1]);
        expect(m.u.dtype).to.equal(dtype);
      });
    }

  it('warm-starts: state carries over between calls', function () {
    const shape = [2, 6, 5];
    const x = Tensor.randn(shape, { seed: 2, dtype: 'float64', device: DEVICE });
    const a = new BatchedPowerIteration(shape, { seed: 8, powerItNiter: 2 });
    const b = new BatchedPowerIteration(shape, { seed: 8, powerItNiter: 4 });
    a.forwardSync(x);
    const ya = a.forwardSync(x);
    const yb = b.forwardSync(x);
    expectClose(ya.toTypedArray(), yb.toTypedArray(), 1e-12, 'two calls of 2 = one call of 4');
  });

  it('honours powerItNiter (0 iterations uses the state as is)', function () {
    const shape = [4, 3];
    const x = Tensor.randn(shape, { seed: 3, dtype: 'float64' });
    const m = new BatchedPowerIteration(shape, { seed: 1, powerItNiter: 0, eps: 0 });
    const y = m.forwardSync(x);
    const u = mats(m.u)[0].a, v = mats(m.v)[0].a;
    const fresh = new BatchedPowerIteration(shape, { seed: 1 }).u.toTypedArray(); // float32 initial state
    expectClose(Float32Array.from(u), fresh, 0, 'u is the seeded initial state');
    const X = mats(x)[0];
    const s = M.dot({ a: u }, M.mul(X, { r: 3, c: 1, a: v }));
    expectClose(y.toTypedArray(), M.scale(X, 1 / s).a, 1e-13, 'X / uᵀXv');
    expectClose(m.forwardSync(x).toTypedArray(), y.toTypedArray(), 0, 'no iteration: same output again');
  });

  it('estimates the spectral norm: output has σmax ≈ 1', function () {
    const x = wellConditionedTensor([3, 8, 6], { seed: 4, lo: 0.2, hi: 3 });
    const m = new BatchedPowerIteration([3, 8, 6], { powerItNiter: 50 });
    for (const w of mats(m.forwardSync(x))) expect(M.svdvals(w)[0]).to.be.closeTo(1, 1e-8);
  });

  it('is reproducible by seed and differs without one', function () {
    const a = new BatchedPowerIteration([3, 2], { seed: 7 }).u.toTypedArray();
    const b = new BatchedPowerIteration([3, 2], { seed: 7 }).u.toTypedArray();
    const c = new BatchedPowerIteration([3, 2]).u.toTypedArray();
    expect(Array.from(a)).to.deep.equal(Array.from(b));
    expect(Array.from(a)).to.not.deep.equal(Array.from(c));
    expect(Math.hypot(...a)).to.be.closeTo(1, 1e-6);
  });

  it('u and v are writable (stored l2-normalized) and fix the state dtype and device', async function () {
    const m = new BatchedPowerIteration([2, 3, 2], { powerItNiter: 0 });
    m.u = Tensor.from(new Float64Array([3, 0, 4, 0, 0, 2]), [2, 3, 1], { device: DEVICE });
    const u = m.u;
    expect(u.dtype).to.equal('float64');
    expectClose(u.toTypedArray(), [0.6, 0, 0.8, 0, 0, 1], 1e-7, 'normalized u');
    expect(m.v.dtype).to.equal('float64');
    await expectCode(() => m.forwardSync(Tensor.randn([2, 3, 2], { device: DEVICE })), ErrorCodes.DTYPE, TypeError);
    await expectCode(() => { m.u = Tensor.zeros([2, 2, 1]); }, ErrorCodes.SHAPE, RangeError);
    await expectCode(() => { m.v = 'x'; }, ErrorCodes.INVALID_ARG, TypeError);
    m.forwardSync(Tensor.randn([2, 3, 2], { dtype: 'float64', device: DEVICE }));
  });

  it('takes the state dtype from the first input', async function () {
    const m = new BatchedPowerIteration([3, 3]);
    expect(m.u.dtype).to.equal('float32'); // before any input: float32 on the CPU
    m.forwardSync(Tensor.randn([3, 3], { dtype: 'float64', device: DEVICE }));
    expect(m.u.dtype).to.equal('float64');
    await expectCode(() => m.forwardSync(Tensor.randn([3, 3], { device: DEVICE })), ErrorCodes.DTYPE);
  });
});

describe('BatchedCholeskyOrthogonalization#forward()', function () {
  for (const stable of [false, true])
    for (const dtype of DTYPES)
      for (const shape of SHAPES) {
        it(`matches the reference on ${shapeName(shape)} ${dtype}${stable ? ' (stable)' : ''}`, function () {
          const x = wellConditionedTensor(shape, { seed: 13, dtype });
          // A tall X makes X Xᵀ + 1e-5·I rank-deficient up to the shift (condition
          // number ~1e5): float32 results of two correct backends differ by more
          // than 1e-4 there, as they do from the float64 reference.
          const tall = shape.at(-2) > shape.at(-1);
          const y = expectCpuParity(forwardOn(BatchedCholeskyOrthogonalization, shape, { stable }, x), dtype, 'cholesky', tall ? 1e-3 : 1e-4);
          expectClose(y, mats(x).flatMap((X) => Array.from(ref.cholesky(X).a)), TOL[dtype] * (dtype === 'float32' ? 10 : 1), 'cholesky');
        });
      }

  it('satisfies W Wᵀ ≈ (XXᵀ)(XXᵀ + 1e-5 I)⁻¹ on full-row-rank input', function () {
    // W Wᵀ = I − ε(LᵀL)⁻¹ and S(S + εI)⁻¹ = I − ε(LLᵀ)⁻¹ differ by at most
    // 2ε/σmin(X)², here 2e-5 / 0.16.
    for (const shape of [[3, 5, 5], [2, 4, 6]]) {
      const x = wellConditionedTensor(shape, { seed: 17, lo: 0.4 });
      const y = new BatchedCholeskyOrthogonalization(shape).forwardSync(x);
      const xs = mats(x);
      mats(y).forEach((W, b) => {
        const X = xs[b];
        const S = M.mul(X, M.t(X));
        const L = M.chol(M.add(S, M.eye(X.r), 1, 1e-5));
        const want = M.solveLowerT(L, M.solveLower(L, S)); // (S + εI)⁻¹S = S(S + εI)⁻¹
        const diff = M.add(M.mul(W, M.t(W)), want, 1, -1).a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        expect(diff).to.be.below(2e-5 / 0.16);
        expect(diff).to.be.above(0); // the two sides are not the same matrix
      });
    }
  });

  it('satisfies W Wᵀ = I − 1e-5 (LᵀL)⁻¹ exactly, also for tall (rank-deficient XXᵀ) input', function () {
    for (const shape of [[3, 5, 3], [2, 4, 6], [6, 6]]) {
      const x = Tensor.randn(shape, { seed: 17, dtype: 'float64', device: DEVICE });
      const y = new BatchedCholeskyOrthogonalization(shape).forwardSync(x);
      const xs = mats(x);
      mats(y).forEach((W, b) => {
        const X = xs[b];
        const L = M.chol(M.add(M.mul(X, M.t(X)), M.eye(X.r), 1, 1e-5));
        const inv = M.solveLower(L, M.solveLowerT(L, M.eye(X.r))); // (LᵀL)⁻¹ = L⁻¹L⁻ᵀ
        expectClose(M.mul(W, M.t(W)).a, M.add(M.eye(X.r), inv, 1, -1e-5).a, 1e-9, 'W Wᵀ');
      });
    }
  });
});

describe('BatchedExponentialOrthogonalization#forward()', function () {
  for (const niters of [7, 12])
    for (const dtype of DTYPES)
      for (const shape of SHAPES) {
        it(`matches the reference (niters ${niters}) on ${shapeName(shape)} ${dtype}`, function () {
          const x = wellConditionedTensor(shape, { seed: 19, dtype });
          const y = expectCpuParity(forwardOn(BatchedExponentialOrthogonalization, shape, { niters }, x), dtype, 'exp');
          expectClose(y, mats(x).flatMap((w) => Array.from(ref.exponential(w, niters).a)), TOL[dtype], 'exp');
        });
      }

  it('gives the series value for skew input and becomes exactly orthogonal as niters grows', function () {
    const g = rng(23);
    const P = M.randn(5, 5, g);
    const A = M.scale(M.add(P, M.t(P), 1, -1), 0.2); // skew, ‖A‖ small
    const x = fromMats([A], []);
    // for skew input (A - Aᵀ)/2 = A, so the result is sum A^k / k!
    let res = M.eye(5), term = M.eye(5);
    for (let k = 1; k < 6; k++) {
      term = M.scale(M.mul(term, A), 1 / k);
      res = M.add(res, term);
    }
    expectClose(new BatchedExponentialOrthogonalization([5, 5], { niters: 6 }).forwardSync(x).toTypedArray(), res.a, 1e-13, 'series');
    let prev = Infinity;
    for (const niters of [4, 8, 16, 24]) {
      const W = mats(new BatchedExponentialOrthogonalization([5, 5], { niters }).forwardSync(x))[0];
      const err = M.fro(M.add(M.mul(M.t(W), W), M.eye(5), 1, -1));
      expect(err).to.be.below(prev + 1e-15);
      prev = err;
    }
    expect(prev).to.be.below(1e-14);
  });

  it('gives the same series with and without requiresGrad (Paterson-Stockmeyer vs Horner), up to rounding', function () {
    for (const niters of [3, 5, 7, 12, 17, 30])
      for (const shape of [[2, 7, 5], [6, 6], [3, 4, 9]]) {
        const x = wellConditionedTensor(shape, { seed: niters });
        const plain = new BatchedExponentialOrthogonalization(shape, { niters }).forwardSync(x);
        const recorded = new BatchedExponentialOrthogonalization(shape, { niters, requiresGrad: true }).forwardSync(x);
        expectClose(plain.toTypedArray(), recorded.toTypedArray(), 1e-14, `niters ${niters} ${shapeName(shape)}`);
        expectClose(plain.toTypedArray(), mats(x).flatMap((w) => Array.from(ref.exponential(w, niters).a)), 1e-13, 'reference');
      }
  });

  it('treats niters < 2 as I + A, as orthogonium', function () {
    const x = Tensor.randn([4, 4], { seed: 2, dtype: 'float64' });
    const a = new BatchedExponentialOrthogonalization([4, 4], { niters: 0 }).forwardSync(x).toTypedArray();
    const b = new BatchedExponentialOrthogonalization([4, 4], { niters: 2 }).forwardSync(x).toTypedArray();
    expect(Array.from(a)).to.deep.equal(Array.from(b));
    expectClose(b, ref.exponential(mats(x)[0], 2).a, 1e-14, 'I + A');
  });
});

describe('BatchedQROrthogonalization#forward()', function () {
  for (const dtype of DTYPES)
    for (const shape of SHAPES) {
      it(`matches the sign-fixed reference QR on ${shapeName(shape)} ${dtype}`, function () {
        const x = wellConditionedTensor(shape, { seed: 29, dtype });
        const y = expectCpuParity(forwardOn(BatchedQROrthogonalization, shape, {}, x), dtype, 'qr');
        expectClose(y, mats(x).flatMap((w) => Array.from(ref.qr(w).a)), TOL[dtype] * (dtype === 'float32' ? 10 : 1), 'qr');
      });
    }

  it('Q·R reproduces the input, QᵀQ = I and R = QᵀA is upper triangular with positive diagonal', function () {
    for (const shape of [[7, 4], [4, 7], [6, 6]]) {
      const x = Tensor.randn([3, ...shape], { seed: 31, dtype: 'float64', device: DEVICE });
      const xs = mats(x);
      mats(new BatchedQROrthogonalization([3, ...shape]).forwardSync(x)).forEach((Q0, b) => {
        const wide = shape[0] < shape[1];
        const Q = wide ? M.t(Q0) : Q0;
        const A = wide ? M.t(xs[b]) : xs[b];
        const R = M.mul(M.t(Q), A);
        for (let i = 0; i < R.r; i++) {
          expect(M.get(R, i, i)).to.be.above(0);
          for (let j = 0; j < i; j++) expect(Math.abs(M.get(R, i, j))).to.be.below(1e-12);
        }
        expectClose(M.mul(Q, R).a, A.a, 1e-12, 'Q R = A');
        expectClose(M.mul(M.t(Q), Q).a, M.eye(Q.c).a, 1e-13, 'QᵀQ = I');
      });
    }
  });

  it('gives a zero column for an exactly zero column of R (sign(0) = 0, as torch.sign)', function () {
    const x = Tensor.from(new Float64Array([1, 0, 0, 0, 2, 0]), [3, 2]); // second column... first column e1
    const y = new BatchedQROrthogonalization([3, 2]).forwardSync(Tensor.from(new Float64Array([1, 0, 0, 0, 0, 0]), [3, 2]));
    const q = y.toTypedArray();
    expect([q[1], q[3], q[5]]).to.deep.equal([0, 0, 0]);
    expect(Math.abs(q[0])).to.equal(1);
    x.dispose();
  });
});

describe('BatchedIdentity / L2Normalize', function () {
  it('BatchedIdentity returns its input', function () {
    const x = Tensor.randn([2, 3, 4], { seed: 1, device: DEVICE });
    const y = new BatchedIdentity([2, 3, 4]).forwardSync(x);
    expect(Array.from(y.toTypedArray())).to.deep.equal(Array.from(x.toTypedArray()));
  });

  const cases = [
    { dim: undefined, groups: (i) => 0 },
    { dim: -1, groups: (i, s) => Math.floor(i / s[2]) },
    { dim: 1, groups: (i, s) => Math.floor(i / (s[1] * s[2])) * s[2] + (i % s[2]) },
    { dim: [0, 2], groups: (i, s) => Math.floor(i / s[2]) % s[1] },
    { dim: [-2, -1], groups: (i, s) => Math.floor(i / (s[1] * s[2])) },
  ];
  for (const dtype of DTYPES)
    for (const c of cases) {
      it(`L2Normalize({ dim: ${JSON.stringify(c.dim)} }) normalizes each group (${dtype})`, function () {
        const s = [2, 3, 4];
        const x = Tensor.randn(s, { seed: 3, dtype, device: DEVICE });
        const xs = x.toTypedArray();
        const norms = new Map();
        xs.forEach((v, i) => norms.set(c.groups(i, s), (norms.get(c.groups(i, s)) ?? 0) + v * v));
        const want = Array.from(xs, (v, i) => v / (Math.sqrt(norms.get(c.groups(i, s))) + 1e-8));
        const m = new L2Normalize(c.dim === undefined ? {} : { dim: c.dim });
        expectClose(m.forwardSync(x).toTypedArray(), want, TOL[dtype], 'l2n');
        expectClose(m.rightInverse(x).toTypedArray(), want, TOL[dtype], 'rightInverse');
      });
    }

  it('L2Normalize rejects out-of-range and repeated dims', async function () {
    const x = Tensor.randn([2, 3]);
    await expectCode(() => new L2Normalize({ dim: 2 }).forwardSync(x), ErrorCodes.INVALID_ARG, RangeError);
    await expectCode(() => new L2Normalize({ dim: [0, -2] }).forwardSync(x), ErrorCodes.INVALID_ARG, RangeError);
    await expectCode(() => new L2Normalize({ dim: 'a' }), ErrorCodes.INVALID_ARG, TypeError);
  });
});

describe('rightInverse()', function () {
  it('is the identity for the matrix modules, as in orthogonium', function () {
    const x = Tensor.randn([2, 4, 3], { seed: 1, device: DEVICE });
    for (const Cls of [BatchedPowerIteration, BatchedIdentity, BatchedBjorckOrthogonalization, BatchedCholeskyOrthogonalization,
      BatchedExponentialOrthogonalization, BatchedQROrthogonalization]) {
      const y = new Cls([2, 4, 3]).rightInverse(x);
      expect(Array.from(y.toTypedArray()), Cls.name).to.deep.equal(Array.from(x.toTypedArray()));
    }
  });
});

describe('singularValues() / orthogonalityError()', function () {
  for (const dtype of DTYPES)
    for (const shape of SHAPES) {
      it(`match the reference on ${shapeName(shape)} ${dtype}`, async function () {
        const x = Tensor.randn(shape, { seed: 37, dtype, device: DEVICE });
        const xs = mats(x);
        const sv = ortho.singularValuesSync(x);
        expect(sv.shape).to.deep.equal([...shape.slice(0, -2), Math.min(shape.at(-1), shape.at(-2))]);
        expectClose(sv.toTypedArray(), xs.flatMap((w) => M.svdvals(w)), TOL[dtype] * 10, 'σ');
        const svAsync = await ortho.singularValues(x);
        expect(Array.from(svAsync.toTypedArray())).to.deep.equal(Array.from(sv.toTypedArray()));
        const oe = ortho.orthogonalityErrorSync(x);
        expect(oe.shape).to.deep.equal(shape.slice(0, -2));
        const want = xs.map((w) => {
          const G = w.r >= w.c ? M.mul(M.t(w), w) : M.mul(w, M.t(w));
          return M.fro(M.add(G, M.eye(G.r), 1, -1));
        });
        expectClose(oe.toTypedArray(), want, TOL[dtype] * 10, 'orthogonality error');
        expect(Array.from((await ortho.orthogonalityError(x)).toTypedArray())).to.deep.equal(Array.from(oe.toTypedArray()));
      });
    }
  // Known spectra, U diag(σ) Vᵀ with U and V from the reference QR: graded
  // over twelve decades, with three exact zeros; tall, wide, batched. Each σ
  // within a small multiple of eps·σ_max (σ_max = 1), the bound of a
  // backward-stable SVD (float32: of its rounded input too).
  for (const [dtype, tol] of [['float64', 1e-13], ['float32', 1e-5]])
    for (const shape of [[1, 60, 40], [1, 40, 60], [3, 30, 30], [1, 130, 120]])
      it(`recover a known spectrum (graded to 1e-12, three zeros) on ${shapeName(shape)} ${dtype}`, function () {
        const g = rng(41);
        const [B, r, c] = shape;
        const k = Math.min(r, c);
        const sigma = Array.from({ length: k }, (_, i) => (i >= k - 3 ? 0 : 10 ** ((-12 * i) / (k - 4))));
        const list = Array.from({ length: B }, () => {
          const U = M.qrPositive(M.randn(r, k, g)).Q, V = M.qrPositive(M.randn(c, k, g)).Q;
          const S = M.zeros(k, k);
          sigma.forEach((s, i) => { S.a[i * k + i] = s; });
          return M.mul(M.mul(U, S), M.t(V));
        });
        const sv = ortho.singularValuesSync(fromMats(list, [B], dtype)).toTypedArray();
        expectClose(sv, list.flatMap(() => sigma), tol, 'σ');
      });
});

describe('presets', function () {
  const presets = {
    DEFAULT_ORTHO_PARAMS: 1e-4,
    BJORCK_PASS_THROUGH_ORTHO_PARAMS: 1e-4,
    DEFAULT_TEST_ORTHO_PARAMS: 1e-4,
    EXP_ORTHO_PARAMS: 1e-4,
    QR_ORTHO_PARAMS: 1e-4,
    CHOLESKY_ORTHO_PARAMS: 5e-5,
    CHOLESKY_STABLE_ORTHO_PARAMS: 5e-5,
  };
  for (const [name, tol] of Object.entries(presets))
    for (const dtype of DTYPES)
      for (const shape of [[4, 16, 16], [3, 20, 12], [3, 12, 20]]) {
        if (name === 'EXP_ORTHO_PARAMS' && shape[1] !== shape[2]) continue; // the crop of exp(A) is not orthogonal
        it(`${name} gives singular values within ${tol} of 1 on ${shapeName(shape)} ${dtype}`, function () {
          const x = wellConditionedTensor(shape, { seed: 41, dtype, lo: 0.4, hi: 2 });
          const y = ortho[name].build(shape, { seed: 3 }).forwardSync(x);
          for (const w of mats(y)) {
            const sv = M.svdvals(w);
            expect(Math.max(...sv.map((s) => Math.abs(s - 1))), `${name} ${shapeName(shape)}`).to.be.at.most(tol);
          }
        });
      }

  it('each preset is built from orthogonium\'s exact settings', function () {
    const x = Tensor.randn([3, 3]);
    const settings = (p) => {
      const m = p.build([3, 3]);
      const pick = (mod) => Object.fromEntries(['powerItNiter', 'eps', 'beta', 'niters', 'passThrough', 'stable']
        .filter((k) => k in mod).map((k) => [k, mod[k]]));
      m.forwardSync(x);
      return [m.spectralNormalizer.constructor.name, pick(m.spectralNormalizer), m.orthogonalizer.constructor.name, pick(m.orthogonalizer)];
    };
    expect(settings(ortho.DEFAULT_ORTHO_PARAMS)).to.deep.equal(['BatchedPowerIteration', { powerItNiter: 3, eps: 1e-6 }, 'BatchedBjorckOrthogonalization', { beta: 0.5, niters: 12, passThrough: false }]);
    expect(settings(ortho.BJORCK_PASS_THROUGH_ORTHO_PARAMS)).to.deep.equal(['BatchedPowerIteration', { powerItNiter: 3, eps: 1e-4 }, 'BatchedBjorckOrthogonalization', { beta: 0.5, niters: 12, passThrough: true }]);
    expect(settings(ortho.DEFAULT_TEST_ORTHO_PARAMS)).to.deep.equal(['BatchedPowerIteration', { powerItNiter: 4, eps: 1e-4 }, 'BatchedBjorckOrthogonalization', { beta: 0.5, niters: 25, passThrough: false }]);
    expect(settings(ortho.EXP_ORTHO_PARAMS)).to.deep.equal(['BatchedPowerIteration', { powerItNiter: 3, eps: 1e-6 }, 'BatchedExponentialOrthogonalization', { niters: 12 }]);
    expect(settings(ortho.QR_ORTHO_PARAMS)).to.deep.equal(['BatchedPowerIteration', { powerItNiter: 3, eps: 1e-3 }, 'BatchedQROrthogonalization', {}]);
    expect(settings(ortho.CHOLESKY_ORTHO_PARAMS)).to.deep.equal(['BatchedIdentity', {}, 'BatchedCholeskyOrthogonalization', { stable: false }]);
    expect(settings(ortho.CHOLESKY_STABLE_ORTHO_PARAMS)).to.deep.equal(['BatchedIdentity', {}, 'BatchedCholeskyOrthogonalization', { stable: true }]);
  });

  it('the composed forward is the orthogonalizer after the spectral normalizer', function () {
    const shape = [2, 6, 4];
    const x = Tensor.randn(shape, { seed: 5, dtype: 'float64', device: DEVICE });
    const m = ortho.DEFAULT_ORTHO_PARAMS.build(shape, { seed: 9 });
    const y = m.forwardSync(x);
    const sn = new BatchedPowerIteration(shape, { seed: 9, eps: 1e-6 });
    const orth = new BatchedBjorckOrthogonalization(shape);
    expect(Array.from(y.toTypedArray())).to.deep.equal(Array.from(orth.forwardSync(sn.forwardSync(x)).toTypedArray()));
    expect(Array.from(m.spectralNormalizer.u.toTypedArray())).to.deep.equal(Array.from(sn.u.toTypedArray()));
  });
});

describe('OrthoParams / classParam', function () {
  it('defaults to power iteration (3, 1e-6) + Björck (0.5, 12)', function () {
    const m = new ortho.OrthoParams().build([4, 4]);
    expect(m.spectralNormalizer).to.be.instanceOf(BatchedPowerIteration);
    expect([m.spectralNormalizer.powerItNiter, m.spectralNormalizer.eps]).to.deep.equal([3, 1e-6]);
    expect(m.orthogonalizer).to.be.instanceOf(BatchedBjorckOrthogonalization);
    expect([m.orthogonalizer.beta, m.orthogonalizer.niters, m.orthogonalizer.passThrough]).to.deep.equal([0.5, 12, false]);
  });

  it('accepts bare classes and factories; build options reach both modules', function () {
    const p = new ortho.OrthoParams({
      spectralNormalizer: BatchedIdentity,
      orthogonalizer: ortho.classParam(BatchedExponentialOrthogonalization, { niters: 5 }),
    });
    const m = p.build([3, 4], { requiresGrad: true });
    expect(m.orthogonalizer.niters).to.equal(5);
    expect(m.requiresGrad && m.spectralNormalizer.requiresGrad && m.orthogonalizer.requiresGrad).to.equal(true);
    const f = ortho.classParam(BatchedBjorckOrthogonalization, { niters: 3 });
    expect(f([2, 2]).niters).to.equal(3);
    expect(f([2, 2], { niters: 4 }).niters).to.equal(4);
    expect(f.moduleClass).to.equal(BatchedBjorckOrthogonalization);
  });

  it('rejects bad specs, shapes and options', async function () {
    await expectCode(() => new ortho.OrthoParams({ orthogonalizer: 3 }), ErrorCodes.INVALID_ARG, TypeError);
    await expectCode(() => new ortho.OrthoParams({ orthogonaliser: BatchedIdentity }), ErrorCodes.INVALID_ARG, TypeError);
    await expectCode(() => ortho.DEFAULT_ORTHO_PARAMS.build([3]), ErrorCodes.SHAPE, RangeError);
    await expectCode(() => ortho.DEFAULT_ORTHO_PARAMS.build([3, 3], { requiresGrad: 1 }), ErrorCodes.INVALID_ARG, TypeError);
    await expectCode(() => ortho.classParam(Math.max), ErrorCodes.INVALID_ARG, TypeError);
    await expectCode(() => new BatchedBjorckOrthogonalization([3, 3], { nIters: 3 }), ErrorCodes.INVALID_ARG, TypeError);
    await expectCode(() => new BatchedBjorckOrthogonalization([3, 3], { niters: -1 }), ErrorCodes.INVALID_ARG, RangeError);
    await expectCode(() => new BatchedPowerIteration([3, 3], { eps: -1 }), ErrorCodes.INVALID_ARG, RangeError);
    await expectCode(() => new BatchedPowerIteration([3, 3], { powerItNiter: 1.5 }), ErrorCodes.INVALID_ARG, TypeError);
  });
});

describe('forward() and forwardSync()', function () {
  const builders = {
    'power iteration': (s) => new BatchedPowerIteration(s, { seed: 1 }),
    bjorck: (s) => new BatchedBjorckOrthogonalization(s),
    'bjorck pass-through': (s) => new BatchedBjorckOrthogonalization(s, { passThrough: true }),
    cholesky: (s) => new BatchedCholeskyOrthogonalization(s),
    exponential: (s) => new BatchedExponentialOrthogonalization(s),
    qr: (s) => new BatchedQROrthogonalization(s),
    identity: (s) => new BatchedIdentity(s),
    'DEFAULT_ORTHO_PARAMS': (s) => ortho.DEFAULT_ORTHO_PARAMS.build(s, { seed: 4 }),
    'QR_ORTHO_PARAMS': (s) => ortho.QR_ORTHO_PARAMS.build(s, { seed: 4 }),
  };
  for (const [name, build] of Object.entries(builders))
    for (const dtype of DTYPES) {
      it(`are bit-identical for ${name} (${dtype})`, async function () {
        const shape = [3, 12, 9];
        const x = wellConditionedTensor(shape, { seed: 43, dtype });
        const a = build(shape).forwardSync(x).toTypedArray();
        const m = build(shape);
        const p = m.forward(x);
        expect(p).to.be.instanceOf(Promise);
        const b = (await p).toTypedArray();
        expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).to.equal(true);
      });
    }

  it('keep call order on one module, even with many calls in flight', async function () {
    const shape = [2, 8, 8];
    const xs = [1, 2, 3, 4, 5].map((s) => Tensor.randn(shape, { seed: s, device: DEVICE }));
    const seq = new BatchedPowerIteration(shape, { seed: 3, powerItNiter: 1 });
    const want = xs.map((x) => seq.forwardSync(x).toTypedArray());
    const par = new BatchedPowerIteration(shape, { seed: 3, powerItNiter: 1 });
    const got = await Promise.all(xs.map((x) => par.forward(x)));
    got.forEach((t, i) => expect(Array.from(t.toTypedArray())).to.deep.equal(Array.from(want[i])));
  });

  it('an input disposed right after an async call does not disturb it', async function () {
    const x = wellConditionedTensor([4, 6, 6], { seed: 2, dtype: 'float64' });
    const want = new BatchedBjorckOrthogonalization([4, 6, 6]).forwardSync(x).toTypedArray();
    const m = new BatchedBjorckOrthogonalization([4, 6, 6]);
    const copy = x.clone();
    const p1 = m.forward(x);
    const p2 = m.forward(copy);
    copy.dispose();
    expect(Array.from((await p1).toTypedArray())).to.deep.equal(Array.from(want));
    expect(Array.from((await p2).toTypedArray())).to.deep.equal(Array.from(want));
  });

  it('a sync call while async calls are pending throws ERR_ORTHO_BUSY and changes nothing', async function () {
    const m = new BatchedBjorckOrthogonalization([2, 4, 4]);
    const x = wellConditionedTensor([2, 4, 4], { seed: 1 });
    const p = m.forward(x);
    await expectCode(() => m.forwardSync(x), ErrorCodes.BUSY);
    await p;
    m.forwardSync(x);
  });

  it('clearContext() while async calls are pending throws ERR_ORTHO_BUSY and keeps the context', async function () {
    const m = new BatchedBjorckOrthogonalization([2, 4, 4], { requiresGrad: true });
    const x = wellConditionedTensor([2, 4, 4], { seed: 1 });
    const p = m.forward(x);
    await expectCode(() => m.clearContext(), ErrorCodes.BUSY);
    await p;
    expect(m.contextBytes).to.be.above(0);
    m.clearContext();
    expect(m.contextBytes).to.equal(0);
  });

  it('dispose() with async calls pending lets them finish in order; later calls throw ERR_ORTHO_DISPOSED', async function () {
    const shape = [2, 4, 4];
    const x = wellConditionedTensor(shape, { seed: 1 });
    const want = Array.from(new BatchedBjorckOrthogonalization(shape).forwardSync(x).toTypedArray());
    const m = new BatchedBjorckOrthogonalization(shape, { requiresGrad: true });
    const g = Tensor.randn(shape, { seed: 2, dtype: 'float64', device: DEVICE });
    const calls = [m.forward(x), m.backward(g), m.forward(x)];
    m.dispose();
    m.dispose(); // idempotent
    await expectCode(() => m.forward(x), ErrorCodes.DISPOSED);
    await expectCode(() => m.forwardSync(x), ErrorCodes.DISPOSED);
    await expectCode(() => m.clearContext(), ErrorCodes.DISPOSED);
    const [y1, gx, y2] = await Promise.all(calls);
    expect(Array.from(y1.toTypedArray())).to.deep.equal(want);
    expect(Array.from(y2.toTypedArray())).to.deep.equal(want);
    expect(Array.from(gx.toTypedArray()).every(Number.isFinite)).to.equal(true);
  });
});

describe('CPU parallelism', function () {
  it('a large batch keeps every core busy', async function () {
    if (DEVICE !== 'cpu' || os.availableParallelism() < 2) this.skip();
    // Measured in a child process: CPU time over wall time of one big forward.
    const script = fileURLToPath(new URL('./fixtures/cpu-usage.mjs', import.meta.url));
    if (process.platform !== 'linux') this.skip();
    const busy = await new Promise((resolve, reject) => {
      const child = fork(script, [], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('exit', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`exit ${code}`))));
    });
    const threads = ortho.backends().find((b) => b.name === 'cpu').threads;
    expect(threads).to.equal(Number(process.env.ORTHO_NUM_THREADS) || os.availableParallelism());
    expect(busy, 'threads that each did at least half a fair share of the work').to.be.at.least(threads);
  });
});
