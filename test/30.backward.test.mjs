// Backward (vector-Jacobian products) of every module and preset, checked
// against central finite differences in float64 (relative error < 1e-6), and
// float32 against float64. Shapes: tall, square, wide and batched.
import {
  DEVICE, FUSED, SHAPES, Tensor, expect, expectClose, expectCode, fdCheck, fixedChain, mats, moduleFdError, ortho, rng, shapeName,
  wellConditionedTensor,
} from './00.setup.mjs';

const {
  BatchedBjorckOrthogonalization, BatchedCholeskyOrthogonalization, BatchedExponentialOrthogonalization,
  BatchedIdentity, BatchedPowerIteration, BatchedQROrthogonalization, L2Normalize, ErrorCodes,
} = ortho;

const FD_TOL = 1e-6;

/** FD check of a stateless module built by make(shape, opts). */
function checkModule(make, shape, { seed = 1, lo = 0.4, hi = 1 } = {}) {
  return moduleFdError((o) => make(shape, o), wellConditionedTensor(shape, { seed, lo, hi }));
}

const MODULES = {
  'Björck (3 iterations)': (s, o) => new BatchedBjorckOrthogonalization(s, { niters: 3, ...o }),
  'Björck (12 iterations, beta 0.4)': (s, o) => new BatchedBjorckOrthogonalization(s, { beta: 0.4, ...o }),
  Cholesky: (s, o) => new BatchedCholeskyOrthogonalization(s, o),
  'Cholesky (stable)': (s, o) => new BatchedCholeskyOrthogonalization(s, { stable: true, ...o }),
  'exponential (niters 2)': (s, o) => new BatchedExponentialOrthogonalization(s, { niters: 2, ...o }),
  'exponential (niters 7)': (s, o) => new BatchedExponentialOrthogonalization(s, o),
  'exponential (niters 12)': (s, o) => new BatchedExponentialOrthogonalization(s, { niters: 12, ...o }),
  QR: (s, o) => new BatchedQROrthogonalization(s, o),
  identity: (s, o) => new BatchedIdentity(s, o),
  'power iteration (fixed state)': (s, o) => new BatchedPowerIteration(s, { seed: 3, powerItNiter: 0, eps: 1e-3, ...o }),
};

describe('backward(): finite differences, float64', function () {
  for (const [name, make] of Object.entries(MODULES))
    for (const shape of SHAPES) {
      it(`${name} on ${shapeName(shape)}`, function () {
        const err = checkModule(make, shape);
        expect(err, `${name} FD relative error`).to.be.below(FD_TOL);
      });
    }

  for (const dim of [undefined, -1, [0, 2]]) {
    it(`L2Normalize({ dim: ${JSON.stringify(dim)} })`, function () {
      const x = Tensor.randn([3, 4, 5], { seed: 2, dtype: 'float64', device: DEVICE });
      const opts = dim === undefined ? {} : { dim };
      expect(moduleFdError((o) => new L2Normalize({ ...opts, ...o }), x)).to.be.below(FD_TOL);
    });
  }

  it('L2Normalize of an all-zero group gives g / 1e-8 there (the norm has no gradient at 0)', function () {
    const x = Tensor.from(new Float64Array([0, 0, 3, 4]), [2, 2], { device: DEVICE });
    const m = new L2Normalize({ dim: -1, requiresGrad: true });
    m.forwardSync(x);
    const g = m.backwardSync(Tensor.from(new Float64Array([1, 2, 1, 1]), [2, 2], { device: DEVICE })).toTypedArray();
    expect(g[0]).to.be.closeTo(1e8, 1);
    expect(g[1]).to.be.closeTo(2e8, 1);
  });
});

describe('BatchedPowerIteration#backward()', function () {
  it('treats u and v as constants: equals the VJP of X / (uᵀXv + eps) at the updated u, v', function () {
    for (const shape of [[6, 4], [3, 7], [2, 5, 5]]) {
      const x = wellConditionedTensor(shape, { seed: 5 });
      const m = new BatchedPowerIteration(shape, { seed: 1, eps: 1e-4, requiresGrad: true });
      m.forwardSync(x);
      const G = Tensor.randn(shape, { seed: 9, dtype: 'float64', device: DEVICE });
      const grad = m.backwardSync(G).toTypedArray();
      const fixed = new BatchedPowerIteration(shape, { powerItNiter: 0, eps: 1e-4, requiresGrad: true });
      fixed.u = m.u;
      fixed.v = m.v;
      fixed.forwardSync(x);
      expectClose(grad, fixed.backwardSync(G).toTypedArray(), 1e-7, 'vs fixed state');
      const probe = new BatchedPowerIteration(shape, { powerItNiter: 0, eps: 1e-4 });
      probe.u = m.u;
      probe.v = m.v;
      const err = fdCheck({ x, f: (v) => probe.forwardSync(v), vjp: (v, g) => (fixed.forwardSync(v), fixed.backwardSync(g)) });
      expect(err).to.be.below(FD_TOL);
    }
  });
});

describe('BatchedBjorckOrthogonalization#backward() with passThrough', function () {
  it('passes the VJP of the one recorded iteration straight through to the input', function () {
    for (const shape of [[7, 5], [4, 6], [2, 5, 5]]) {
      const x = wellConditionedTensor(shape, { seed: 7 });
      const pt = new BatchedBjorckOrthogonalization(shape, { niters: 6, passThrough: true, requiresGrad: true });
      pt.forwardSync(x);
      const G = Tensor.randn(shape, { seed: 3, dtype: 'float64', device: DEVICE });
      const grad = pt.backwardSync(G);
      // the input of the recorded iteration, and one iteration's exact VJP there
      const w6 = new BatchedBjorckOrthogonalization(shape, { niters: 6 }).forwardSync(x);
      const step = new BatchedBjorckOrthogonalization(shape, { niters: 1, requiresGrad: true });
      step.forwardSync(w6);
      expectClose(grad.toTypedArray(), step.backwardSync(G).toTypedArray(), 1e-13, 'straight-through');
      const probe = new BatchedBjorckOrthogonalization(shape, { niters: 1 });
      const err = fdCheck({ x: w6, f: (v) => probe.forwardSync(v), vjp: (v, g) => (step.forwardSync(v), step.backwardSync(g)) });
      expect(err).to.be.below(FD_TOL);
    }
  });

  it('keeps a context that does not grow with niters (without passThrough it does)', function () {
    const shape = [8, 32, 32];
    const bytes = (niters, passThrough) => {
      const m = new BatchedBjorckOrthogonalization(shape, { niters, passThrough, requiresGrad: true });
      m.forwardSync(wellConditionedTensor(shape, { seed: 1, dtype: 'float32' }));
      return m.contextBytes;
    };
    // a recorded step's input, and its folded Gram but where the CPU's
    // small-matrix kernels recompute it
    const one = (DEVICE === 'cpu' && FUSED ? 1 : 2) * 8 * 32 * 32 * 4;
    expect([1, 5, 25].map((n) => bytes(n, true))).to.deep.equal([one, one, one]);
    expect([1, 5, 25].map((n) => bytes(n, false))).to.deep.equal([one, 5 * one, 25 * one]);
  });
});

describe('BatchedQROrthogonalization#backward() on rank-deficient input', function () {
  it('throws ERR_ORTHO_RANK_DEFICIENT when R has a zero on its diagonal', async function () {
    const x = Tensor.from(new Float64Array([1, 0, 0, 0, 0, 0]), [3, 2], { device: DEVICE }); // zero column
    const m = new BatchedQROrthogonalization([3, 2], { requiresGrad: true });
    m.forwardSync(x);
    await expectCode(() => m.backwardSync(Tensor.randn([3, 2], { dtype: 'float64', device: DEVICE })), ErrorCodes.RANK_DEFICIENT);
  });

  it('gives large but finite gradients near rank deficiency (1/σmin growth)', function () {
    const g = rng(4);
    const a = Array.from({ length: 4 }, () => g.normal());
    const data = new Float64Array(8);
    for (let i = 0; i < 4; i++) {
      data[2 * i] = a[i];
      data[2 * i + 1] = a[i] * (1 + 1e-9 * (i - 1.5)); // second column nearly parallel
    }
    const m = new BatchedQROrthogonalization([4, 2], { requiresGrad: true });
    m.forwardSync(Tensor.from(data, [4, 2], { device: DEVICE }));
    const grad = m.backwardSync(Tensor.randn([4, 2], { seed: 1, dtype: 'float64', device: DEVICE })).toTypedArray();
    expect(grad.every(Number.isFinite)).to.equal(true);
    expect(Math.max(...grad.map(Math.abs))).to.be.above(1e6);
  });
});

// Presets: the chain's VJP with the power iteration's u, v as constants.
const PRESETS = [
  'DEFAULT_ORTHO_PARAMS', 'DEFAULT_TEST_ORTHO_PARAMS', 'EXP_ORTHO_PARAMS', 'QR_ORTHO_PARAMS',
  'CHOLESKY_ORTHO_PARAMS', 'CHOLESKY_STABLE_ORTHO_PARAMS',
];

describe('presets: backward through the composed chain', function () {
  for (const name of PRESETS)
    for (const shape of [[6, 4], [5, 5], [3, 7], [2, 2, 5, 4]]) {
      it(`${name} on ${shapeName(shape)} matches finite differences`, function () {
        const preset = ortho[name];
        const x = wellConditionedTensor(shape, { seed: 11, lo: 0.5, hi: 2 });
        const m = preset.build(shape, { requiresGrad: true, seed: 2 });
        m.forwardSync(x);
        const probe = fixedChain(preset, m, shape);
        const err = fdCheck({ x, f: (v) => probe.forwardSync(v), vjp: (v, g) => m.backwardSync(g) });
        expect(err).to.be.below(FD_TOL);
      });
    }

  it('BJORCK_PASS_THROUGH_ORTHO_PARAMS: power-iteration VJP of the straight-through Björck gradient', function () {
    const shape = [2, 6, 4];
    const x = wellConditionedTensor(shape, { seed: 13, lo: 0.5, hi: 2 });
    const m = ortho.BJORCK_PASS_THROUGH_ORTHO_PARAMS.build(shape, { requiresGrad: true, seed: 2 });
    m.forwardSync(x);
    const G = Tensor.randn(shape, { seed: 5, dtype: 'float64', device: DEVICE });
    const grad = m.backwardSync(G).toTypedArray();
    // by hand: normalize with the same (fixed) u, v, run 12 plain iterations, one recorded step
    const pi = new BatchedPowerIteration(shape, { powerItNiter: 0, eps: 1e-4, requiresGrad: true });
    pi.u = m.spectralNormalizer.u;
    pi.v = m.spectralNormalizer.v;
    const xn = pi.forwardSync(x);
    const w12 = new BatchedBjorckOrthogonalization(shape, { niters: 12 }).forwardSync(xn);
    const step = new BatchedBjorckOrthogonalization(shape, { niters: 1, requiresGrad: true });
    step.forwardSync(w12);
    // 1e-7: assigning u, v re-normalizes them (a 1e-8 relative change)
    expectClose(grad, pi.backwardSync(step.backwardSync(G)).toTypedArray(), 1e-7, 'pass-through chain');
  });
});

describe('backward(): float32 agrees with float64', function () {
  const cases = {
    ...MODULES,
    DEFAULT_ORTHO_PARAMS: (s, o) => ortho.DEFAULT_ORTHO_PARAMS.build(s, { seed: 1, ...o }),
    BJORCK_PASS_THROUGH_ORTHO_PARAMS: (s, o) => ortho.BJORCK_PASS_THROUGH_ORTHO_PARAMS.build(s, { seed: 1, ...o }),
    CHOLESKY_ORTHO_PARAMS: (s, o) => ortho.CHOLESKY_ORTHO_PARAMS.build(s, o),
    QR_ORTHO_PARAMS: (s, o) => ortho.QR_ORTHO_PARAMS.build(s, { seed: 1, ...o }),
    EXP_ORTHO_PARAMS: (s, o) => ortho.EXP_ORTHO_PARAMS.build(s, { seed: 1, ...o }),
  };
  for (const [name, make] of Object.entries(cases)) {
    // Cholesky of a tall X factors the rank-deficient X Xᵀ + 1e-5·I (condition
    // number ~1e5): not well-conditioned, so it is compared on wide input.
    const shape = /holesky/i.test(name) ? [3, 8, 12] : [3, 12, 8];
    it(`${name} to 1e-4 relative on ${shapeName(shape)}`, function () {
      const x64 = wellConditionedTensor(shape, { seed: 17, lo: 0.5, hi: 1 });
      const g64 = Tensor.randn(shape, { seed: 2, dtype: 'float64', device: DEVICE });
      const run = (dtype) => {
        const m = make(shape, { requiresGrad: true });
        m.forwardSync(x64.to(DEVICE, dtype));
        return m.backwardSync(g64.to(DEVICE, dtype)).toTypedArray();
      };
      expectClose(run('float32'), run('float64'), 1e-4, `${name} float32 vs float64`);
    });
  }
});

describe('backward() and backwardSync()', function () {
  for (const name of ['DEFAULT_ORTHO_PARAMS', 'CHOLESKY_ORTHO_PARAMS', 'QR_ORTHO_PARAMS', 'EXP_ORTHO_PARAMS'])
    for (const dtype of ['float32', 'float64']) {
      it(`are bit-identical for ${name} (${dtype})`, async function () {
        const shape = [2, 10, 7];
        const x = wellConditionedTensor(shape, { seed: 19, dtype });
        const g = Tensor.randn(shape, { seed: 4, dtype, device: DEVICE });
        const m = ortho[name].build(shape, { requiresGrad: true, seed: 5 });
        m.forwardSync(x);
        const a = m.backwardSync(g).toTypedArray();
        const b = (await m.backward(g)).toTypedArray();
        expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).to.equal(true);
      });
    }

  it('run in call order after a pending async forward', async function () {
    const shape = [3, 6];
    const x = wellConditionedTensor(shape, { seed: 3 });
    const g = Tensor.randn(shape, { seed: 1, dtype: 'float64', device: DEVICE });
    const ref = new BatchedCholeskyOrthogonalization(shape, { requiresGrad: true });
    ref.forwardSync(x);
    const want = ref.backwardSync(g).toTypedArray();
    const m = new BatchedCholeskyOrthogonalization(shape, { requiresGrad: true });
    const [, grad] = await Promise.all([m.forward(x), m.backward(g)]);
    expect(Array.from(grad.toTypedArray())).to.deep.equal(Array.from(want));
  });
});

describe('the saved context', function () {
  it('without requiresGrad nothing is kept and backward() throws ERR_ORTHO_NO_GRAD', async function () {
    const m = new BatchedCholeskyOrthogonalization([3, 3]);
    m.forwardSync(wellConditionedTensor([3, 3]));
    expect(m.contextBytes).to.equal(0);
    const err = await expectCode(() => m.backwardSync(Tensor.zeros([3, 3], { dtype: 'float64' })), ErrorCodes.NO_GRAD);
    expect(err.message).to.contain('requiresGrad');
    await expectCode(() => m.backward(Tensor.zeros([3, 3], { dtype: 'float64' })), ErrorCodes.NO_GRAD);
    const chain = ortho.DEFAULT_ORTHO_PARAMS.build([3, 3]);
    chain.forwardSync(wellConditionedTensor([3, 3]));
    await expectCode(() => chain.backwardSync(Tensor.zeros([3, 3], { dtype: 'float64' })), ErrorCodes.NO_GRAD);
  });

  it('backward() before any forward() throws ERR_ORTHO_NO_GRAD', async function () {
    const m = new BatchedQROrthogonalization([3, 3], { requiresGrad: true });
    const err = await expectCode(() => m.backwardSync(Tensor.zeros([3, 3])), ErrorCodes.NO_GRAD);
    expect(err.message).to.contain('forward');
  });

  it('checks the gradient against the latest forward: shape, dtype, finiteness', async function () {
    const m = new BatchedBjorckOrthogonalization([4, 3], { requiresGrad: true });
    m.forwardSync(wellConditionedTensor([4, 3]));
    await expectCode(() => m.backwardSync(Tensor.zeros([3, 4], { dtype: 'float64', device: DEVICE })), ErrorCodes.SHAPE, RangeError);
    await expectCode(() => m.backwardSync(Tensor.zeros([4, 3], { dtype: 'float32', device: DEVICE })), ErrorCodes.DTYPE, TypeError);
    await expectCode(() => m.backwardSync(Tensor.from(new Float64Array(12).fill(NaN), [4, 3], { device: DEVICE })), ErrorCodes.NON_FINITE, RangeError);
  });

  it('is replaced by the next forward and freed by clearContext() and dispose()', async function () {
    const shape = [2, 5, 5];
    const m = new BatchedExponentialOrthogonalization(shape, { requiresGrad: true });
    m.forwardSync(wellConditionedTensor(shape, { seed: 1 }));
    const bytes = m.contextBytes;
    expect(bytes).to.be.above(0);
    const x2 = wellConditionedTensor(shape, { seed: 2 });
    m.forwardSync(x2);
    expect(m.contextBytes).to.equal(bytes);
    const g = Tensor.randn(shape, { seed: 3, dtype: 'float64', device: DEVICE });
    const fresh = new BatchedExponentialOrthogonalization(shape, { requiresGrad: true });
    fresh.forwardSync(x2);
    expect(Array.from(m.backwardSync(g).toTypedArray())).to.deep.equal(Array.from(fresh.backwardSync(g).toTypedArray()));
    m.clearContext();
    expect(m.contextBytes).to.equal(0);
    await expectCode(() => m.backwardSync(g), ErrorCodes.NO_GRAD);
    m.dispose();
    await expectCode(() => m.forwardSync(x2), ErrorCodes.DISPOSED);
  });

  it('a composed module reports what both halves hold, and clearContext() frees both', async function () {
    const shape = [3, 6, 4];
    const m = ortho.DEFAULT_ORTHO_PARAMS.build(shape, { requiresGrad: true, seed: 1 });
    expect(m.contextBytes).to.equal(0);
    m.forwardSync(wellConditionedTensor(shape, { seed: 1 }));
    const sn = m.spectralNormalizer.contextBytes, orth = m.orthogonalizer.contextBytes;
    expect(sn).to.be.above(0);
    expect(orth).to.be.above(0);
    expect(m.contextBytes).to.equal(sn + orth);
    m.clearContext();
    expect([m.contextBytes, m.spectralNormalizer.contextBytes, m.orthogonalizer.contextBytes]).to.deep.equal([0, 0, 0]);
  });
});
