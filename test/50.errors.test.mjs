// Every error path by its stable code; bad input never changes the caller's
// tensors or a module's state, and never crashes the process.
import { createRequire } from 'node:module';
import { DEVICE, Tensor, expect, expectCode, ortho, wellConditionedTensor } from './00.setup.mjs';

const require = createRequire(import.meta.url);
const { binding } = require('../dist/native.js');
const {
  BatchedBjorckOrthogonalization, BatchedCholeskyOrthogonalization, BatchedExponentialOrthogonalization,
  BatchedIdentity, BatchedPowerIteration, BatchedQROrthogonalization, L2Normalize, OrthoParams, classParam, ErrorCodes,
} = ortho;

const CLASSES = [
  BatchedPowerIteration, BatchedIdentity, BatchedBjorckOrthogonalization, BatchedCholeskyOrthogonalization,
  BatchedExponentialOrthogonalization, BatchedQROrthogonalization,
];

const snapshot = (t) => Array.from(t.toTypedArray());

describe('errors: shapes', function () {
  it('weight shapes must have rank >= 2 and positive integer entries', async function () {
    for (const Cls of CLASSES) {
      await expectCode(() => new Cls([3]), ErrorCodes.SHAPE, RangeError);
      await expectCode(() => new Cls([3, 0]), ErrorCodes.SHAPE, RangeError);
      await expectCode(() => new Cls([2, -3, 4]), ErrorCodes.SHAPE, RangeError);
      await expectCode(() => new Cls([2.5, 3]), ErrorCodes.SHAPE, TypeError);
      await expectCode(() => new Cls('3x3'), ErrorCodes.SHAPE, TypeError);
      await expectCode(() => new Cls([NaN, 3]), ErrorCodes.SHAPE, TypeError);
    }
  });

  it('an input whose shape differs from weightShape is rejected, naming both shapes', async function () {
    for (const Cls of CLASSES) {
      const m = new Cls([2, 4, 3]);
      const err = await expectCode(() => m.forwardSync(Tensor.randn([4, 3], { device: DEVICE })), ErrorCodes.SHAPE, RangeError);
      expect(err.message).to.contain('[2, 4, 3]').and.contain('[4, 3]');
      await expectCode(() => m.forward(Tensor.randn([2, 3, 4], { device: DEVICE })), ErrorCodes.SHAPE, RangeError);
      await expectCode(() => m.forwardSync(Tensor.randn([24], { device: DEVICE })), ErrorCodes.SHAPE, RangeError);
    }
  });

  it('diagnostics need rank >= 2', async function () {
    await expectCode(() => ortho.singularValuesSync(Tensor.zeros([3])), ErrorCodes.SHAPE, RangeError);
    await expectCode(() => ortho.orthogonalityError(Tensor.zeros([3])), ErrorCodes.SHAPE, RangeError);
  });
});

describe('errors: non-finite values (rule: every input must be finite; a result that overflows is an error)', function () {
  for (const bad of [NaN, Infinity, -Infinity]) {
    it(`${bad} in the input is rejected by every module and diagnostic, input untouched`, async function () {
      const data = new Float64Array(12).fill(0.1);
      data[5] = bad;
      const x = Tensor.from(data, [4, 3], { device: DEVICE });
      const before = snapshot(x);
      for (const Cls of CLASSES) {
        const err = await expectCode(() => new Cls([4, 3]).forwardSync(x), ErrorCodes.NON_FINITE, RangeError);
        expect(err.message).to.contain('1 NaN or infinite value');
        await expectCode(() => new Cls([4, 3]).forward(x), ErrorCodes.NON_FINITE, RangeError);
      }
      await expectCode(() => new L2Normalize().forwardSync(x), ErrorCodes.NON_FINITE, RangeError);
      for (const Cls of CLASSES) await expectCode(() => new Cls([4, 3]).rightInverse(x), ErrorCodes.NON_FINITE, RangeError);
      await expectCode(() => ortho.DEFAULT_ORTHO_PARAMS.build([4, 3]).rightInverse(x), ErrorCodes.NON_FINITE, RangeError);
      await expectCode(() => ortho.singularValuesSync(x), ErrorCodes.NON_FINITE, RangeError);
      await expectCode(() => ortho.orthogonalityErrorSync(x), ErrorCodes.NON_FINITE, RangeError);
      expect(snapshot(x)).to.deep.equal(before);
    });
  }

  // Every module checks its result and scans its input (or gradient) only
  // when the result is not finite or the computation threw (OpModule,
  // native/ops/module.h): the input is still the one named. L2Normalize and
  // BatchedPowerIteration, whose results are formed elementwise from the
  // input (where 0 * inf and inf / inf must still surface): every placement
  // of a bad value, every grouping, both entry points, forward and backward.
  describe('modules that name a bad input from their own results', function () {
    const shape = [3, 4, 5];
    const MAKERS = [
      ...[undefined, -1, 0, [0, 2]].map((dim) => [`L2Normalize(dim ${JSON.stringify(dim)})`,
        (o) => new L2Normalize(dim === undefined ? o : { ...o, dim })]),
      ['BatchedPowerIteration', (o) => new BatchedPowerIteration(shape, { ...o, seed: 3 })],
      // one matrix: the unfused path on the CPU (GEMVs, then the scaling)
      ['BatchedPowerIteration on one matrix', (o) => new BatchedPowerIteration([1, 6, 10], { ...o, seed: 3 }), [1, 6, 10]],
    ];
    for (const dtype of ['float32', 'float64']) {
      for (const [label, make, xShape = shape] of MAKERS) {
        it(`${label}, ${dtype}: NaN and ±Infinity anywhere are reported with their count`, async function () {
          for (const bad of [NaN, Infinity, -Infinity]) {
            for (const where of [[0], [59], [7, 31], [12]]) {
              const data = new Float64Array(60).map((_, i) => ((i * 7) % 11) / 10 - 0.5);
              if (where[0] === 12) data.fill(0); // zeros around the bad value: 0 * inf and inf / inf
              for (const i of where) data[i] = bad;
              const x = Tensor.from(data, xShape, { device: DEVICE, dtype });
              const before = snapshot(x);
              const err = await expectCode(() => make({}).forwardSync(x), ErrorCodes.NON_FINITE, RangeError);
              expect(err.message).to.contain(`the input holds ${where.length} NaN or infinite value`);
              await expectCode(() => make({}).forward(x), ErrorCodes.NON_FINITE, RangeError);
              expect(snapshot(x)).to.deep.equal(before);

              const m = make({ requiresGrad: true });
              const clean = Tensor.from(new Float64Array(60).map((_, i) => (i % 3) - 1), xShape, { device: DEVICE, dtype });
              m.forwardSync(clean);
              const gerr = await expectCode(() => m.backwardSync(x), ErrorCodes.NON_FINITE, RangeError);
              expect(gerr.message).to.contain(`the gradient holds ${where.length} NaN or infinite value`);
              await expectCode(() => m.backward(x), ErrorCodes.NON_FINITE, RangeError);
            }
          }
        });
      }
    }

    // The Cholesky module throws where a bad input breaks the factorization;
    // the rule then scans the input and names it.
    for (const dtype of ['float32', 'float64']) {
      for (const [shape, opts] of [[[3, 4, 5], {}], [[3, 4, 5], { stable: true }], [[2, 40, 70], {}]]) {
        it(`BatchedCholeskyOrthogonalization ${JSON.stringify(shape)} ${JSON.stringify(opts)}, ${dtype}: NaN and ±Infinity anywhere are reported with their count`, async function () {
          const [B, m, n] = shape;
          const total = B * m * n;
          // [I 0] plus small values: X X^T well conditioned
          const base = () => new Float64Array(total).map((_, i) => ((i * 7) % 11) / 50 + (Math.floor(i / n) % m === i % n ? 1 : 0));
          for (const bad of [NaN, Infinity, -Infinity]) {
            for (const where of [[0], [total - 1], [7, total - 9], [n + 1]]) {
              const data = base();
              if (where[0] === n + 1) data.fill(0, 0, 2 * n); // zeros around the bad value: 0 * inf
              for (const i of where) data[i] = bad;
              const x = Tensor.from(data, shape, { device: DEVICE, dtype });
              const before = snapshot(x);
              const err = await expectCode(() => new BatchedCholeskyOrthogonalization(shape, opts).forwardSync(x), ErrorCodes.NON_FINITE, RangeError);
              expect(err.message).to.contain(`the input holds ${where.length} NaN or infinite value`);
              await expectCode(() => new BatchedCholeskyOrthogonalization(shape, opts).forward(x), ErrorCodes.NON_FINITE, RangeError);
              // The preset (BatchedIdentity, then this module): the identity's result is the input.
              const preset = opts.stable ? ortho.CHOLESKY_STABLE_ORTHO_PARAMS : ortho.CHOLESKY_ORTHO_PARAMS;
              const perr = await expectCode(() => preset.build(shape).forwardSync(x), ErrorCodes.NON_FINITE, RangeError);
              expect(perr.message).to.contain(`the input holds ${where.length} NaN or infinite value`);
              expect(snapshot(x)).to.deep.equal(before);

              const mod = new BatchedCholeskyOrthogonalization(shape, { ...opts, requiresGrad: true });
              mod.forwardSync(Tensor.from(base(), shape, { device: DEVICE, dtype }));
              const gerr = await expectCode(() => mod.backwardSync(x), ErrorCodes.NON_FINITE, RangeError);
              expect(gerr.message).to.contain(`the gradient holds ${where.length} NaN or infinite value`);
              await expectCode(() => mod.backward(x), ErrorCodes.NON_FINITE, RangeError);
            }
          }
        });
      }
    }

    it('finite values whose sum of squares overflows are not an input error (L2Normalize, float32)', async function () {
      // ||x||^2 = 2e60 overflows float32; x itself is finite. The result is
      // finite either way (what the normalization gives there: 0, as in
      // numpy's x / norm(x)).
      const x = Tensor.from(new Float32Array([1e30, 1e30, 0.5, 0.25]), [2, 2], { device: DEVICE });
      const y = new L2Normalize({ dim: -1 }).forwardSync(x).toTypedArray();
      expect(Array.from(y).every(Number.isFinite)).to.equal(true);
      expect(y[2]).to.be.closeTo(0.5 / Math.hypot(0.5, 0.25), 1e-6);
    });

    it('a result that overflows from finite values is reported as an overflow, not as a bad input', async function () {
      // power iteration with eps 0 on subnormal float32 weights: 1 / s overflows
      const tiny = Tensor.from(new Float32Array(16).fill(1e-41), [4, 4], { device: DEVICE });
      const err = await expectCode(() => new BatchedPowerIteration([4, 4], { eps: 0 }).forwardSync(tiny), ErrorCodes.NON_FINITE, RangeError);
      expect(err.message).to.contain('overflowed').and.not.contain('the input holds');
      // L2Normalize backward: c g overflows for a huge finite gradient on a tiny group
      const m = new L2Normalize({ dim: -1, requiresGrad: true });
      m.forwardSync(Tensor.from(new Float32Array([1e-30, 0, 1, 1]), [2, 2], { device: DEVICE }));
      const gerr = await expectCode(() => m.backwardSync(Tensor.from(new Float32Array([1e38, 1e38, 1, 1]), [2, 2], { device: DEVICE })),
        ErrorCodes.NON_FINITE, RangeError);
      expect(gerr.message).to.contain('overflowed').and.not.contain('the gradient holds');
    });
  });

  it('a diagnostic whose result overflows reports it instead of returning Infinity', async function () {
    // ||WᵀW − I||_F of diag(1e20, 1, 1): 1e40 does not fit in float32
    const x = Tensor.from(new Float32Array([1e20, 0, 0, 0, 1, 0, 0, 0, 1]), [3, 3], { device: DEVICE });
    const err = await expectCode(() => ortho.orthogonalityErrorSync(x), ErrorCodes.NON_FINITE, RangeError);
    expect(err.message).to.contain('overflowed');
    // in range, the same call is finite: (1e9)² − 1 ≈ 1e18, its square 1e36 fits
    const ok = Tensor.from(new Float32Array([1e9, 0, 0, 0, 1, 0, 0, 0, 1]), [3, 3], { device: DEVICE });
    expect(ortho.orthogonalityErrorSync(ok).toTypedArray()[0]).to.be.closeTo(1e18, 1e12);
  });

  it('a diverging iteration reports the overflow instead of returning NaN', async function () {
    const x = Tensor.from(new Float32Array([1e10, 0, 0, 1e10]), [2, 2], { device: DEVICE });
    const err = await expectCode(() => new BatchedBjorckOrthogonalization([2, 2]).forwardSync(x), ErrorCodes.NON_FINITE, RangeError);
    expect(err.message).to.contain('overflowed');
  });

  it('a failure in the orthogonalizer leaves the power iteration state and saved context as they were', async function () {
    const shape = [2, 4, 4];
    const p = new OrthoParams({ orthogonalizer: classParam(BatchedBjorckOrthogonalization, { beta: 1e30, niters: 4 }) });
    const m = p.build(shape, { seed: 1, requiresGrad: true });
    const u0 = snapshot(m.spectralNormalizer.u);
    const x = wellConditionedTensor(shape, { seed: 1, dtype: 'float32' });
    await expectCode(() => m.forwardSync(x), ErrorCodes.NON_FINITE);
    await expectCode(() => m.forward(x), ErrorCodes.NON_FINITE);
    expect(snapshot(m.spectralNormalizer.u)).to.deep.equal(u0);
    expect(m.spectralNormalizer.contextBytes).to.equal(0);
    expect(m.u).to.equal(undefined); // the chain itself has no state
  });
});

describe('errors: out of memory', function () {
  it('a tensor larger than the memory gives ERR_ORTHO_OUT_OF_MEMORY naming the bytes, and the process goes on', async function () {
    // 10^12 float32 elements: 4 TB, on the host or the device under test
    const err = await expectCode(() => Tensor.zeros([1000000, 1000000], { device: DEVICE }), ErrorCodes.OUT_OF_MEMORY);
    expect(err.message).to.contain('4000000000000 bytes');
    await expectCode(() => Tensor.eye([1000000, 1000000], { device: DEVICE, dtype: 'float64' }), ErrorCodes.OUT_OF_MEMORY);
    const z = Tensor.zeros([2, 3, 4], { device: DEVICE });
    expect(Array.from(z.toTypedArray()).every((v) => v === 0)).to.equal(true);
    const e = Tensor.eye([2, 3, 4], { device: DEVICE, dtype: 'float64' }).toTypedArray();
    expect(Array.from(e)).to.deep.equal([0, 1].flatMap(() => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]));
  });
});

describe('errors: Cholesky not positive definite', function () {
  // An infinite pivot passes LAPACK's (and cuSOLVER's) test and would zero
  // the rows it divides: the overflow of X Xᵀ must be reported instead.
  for (const [shape, m] of [[[2, 3, 3], 3], [[2, 40, 48], 40]]) {
    it(`X Xᵀ overflowing float32 fails at the overflowed pivot, not with zero rows (${JSON.stringify(shape)})`, async function () {
      const n = shape[2], per = m * n;
      const data = new Float64Array(2 * per).map((_, i) => (Math.floor(i / n) % m === i % n ? 1 : 0) + ((i * 37) % 17) / 170);
      for (let c = 0; c < n; c++) data[per + 2 * n + c] = 0; // matrix 1, row 2: 1e20 e_2
      data[per + 2 * n + 2] = 1e20;
      for (let r = 0; r < m; r++) if (r !== 2) data[per + r * n + 2] = 0; // keep column 2 to row 2: only S(2, 2) overflows
      const x = Tensor.from(Float32Array.from(data), shape, { device: DEVICE });
      const err = await expectCode(() => new BatchedCholeskyOrthogonalization(shape).forwardSync(x), ErrorCodes.NOT_POSITIVE_DEFINITE);
      expect(err.message).to.contain('matrix 1').and.contain('order 3').and.contain('float32');
      // float64 holds 1e40: there the same rows come out orthonormal (W Wᵀ = I − 1e-5 (LᵀL)⁻¹ ≈ I)
      const w = new BatchedCholeskyOrthogonalization(shape).forwardSync(Tensor.from(data, shape, { device: DEVICE }));
      expect(ortho.orthogonalityErrorSync(w).toTypedArray()[1]).to.be.below(1e-3);
      const row2 = Array.from(w.toTypedArray().slice(per + 2 * n, per + 3 * n));
      expect(row2[2]).to.be.closeTo(1, 1e-9);
    });
  }

  it('throws ERR_ORTHO_NOT_POSITIVE_DEFINITE naming the matrix, and changes nothing', async function () {
    // matrix 1 has four equal rows of size ~100: X Xᵀ (rank 1) + 1e-5 I
    // rounds to a singular matrix in float32 (the shift is below its eps)
    const data = new Float32Array(24);
    [0.5, -0.1, 0.2, 0.3, 0.6, 0.1, -0.2, 0.4, 0.7, 0.1, 0.2, -0.3].forEach((v, i) => (data[i] = v));
    for (let r = 0; r < 4; r++) data.set([100, 200, 300], 12 + 3 * r);
    const x = Tensor.from(data, [2, 4, 3], { device: DEVICE });
    const before = snapshot(x);
    const m = new BatchedCholeskyOrthogonalization([2, 4, 3], { requiresGrad: true });
    const err = await expectCode(() => m.forwardSync(x), ErrorCodes.NOT_POSITIVE_DEFINITE);
    expect(err.message).to.contain('matrix 1').and.contain('float32');
    await expectCode(() => m.forward(x), ErrorCodes.NOT_POSITIVE_DEFINITE);
    await expectCode(() => ortho.CHOLESKY_ORTHO_PARAMS.build([2, 4, 3]).forwardSync(x), ErrorCodes.NOT_POSITIVE_DEFINITE);
    expect(m.contextBytes).to.equal(0);
    expect(snapshot(x)).to.deep.equal(before);
    // float64 resolves the shift: fine there
    new BatchedCholeskyOrthogonalization([2, 4, 3]).forwardSync(x.to(DEVICE, 'float64'));
  });
});

describe('errors: disposed tensors and modules', function () {
  it('a disposed input is rejected by forward, backward and diagnostics', async function () {
    const x = Tensor.randn([3, 3], { device: DEVICE });
    x.dispose();
    for (const Cls of CLASSES) {
      await expectCode(() => new Cls([3, 3]).forwardSync(x), ErrorCodes.DISPOSED);
      await expectCode(() => new Cls([3, 3]).forward(x), ErrorCodes.DISPOSED);
    }
    await expectCode(() => ortho.singularValues(x), ErrorCodes.DISPOSED);
    await expectCode(() => x.to('cpu'), ErrorCodes.DISPOSED);
    await expectCode(() => x.reshape([9]), ErrorCodes.DISPOSED);
  });

  it('a disposed module says so', async function () {
    const m = ortho.DEFAULT_ORTHO_PARAMS.build([3, 3]);
    m.dispose();
    m.dispose();
    await expectCode(() => m.forwardSync(Tensor.randn([3, 3])), ErrorCodes.DISPOSED);
    await expectCode(() => m.clearContext(), ErrorCodes.DISPOSED);
    await expectCode(() => m.forward(Tensor.randn([3, 3])), ErrorCodes.DISPOSED);
    // its halves still work on their own
    m.spectralNormalizer.forwardSync(Tensor.randn([3, 3]));
  });
});

describe('errors: wrong argument types', function () {
  it('modules reject non-tensors with a TypeError', async function () {
    const m = new BatchedQROrthogonalization([2, 2], { requiresGrad: true });
    for (const bad of [undefined, null, 42, 'x', [1, 2, 3, 4], new Float32Array(4), {}]) {
      await expectCode(() => m.forwardSync(bad), ErrorCodes.INVALID_ARG, TypeError);
      await expectCode(() => m.forward(bad), ErrorCodes.INVALID_ARG, TypeError);
      await expectCode(() => m.backwardSync(bad), ErrorCodes.INVALID_ARG, TypeError);
      await expectCode(() => m.rightInverse(bad), ErrorCodes.INVALID_ARG, TypeError);
      await expectCode(() => ortho.orthogonalityErrorSync(bad), ErrorCodes.INVALID_ARG, TypeError);
    }
    await expectCode(() => new BatchedPowerIteration([2, 2], { seed: 'abc' }), ErrorCodes.INVALID_ARG, TypeError);
    await expectCode(() => new BatchedCholeskyOrthogonalization([2, 2], { stable: 'yes' }), ErrorCodes.INVALID_ARG, TypeError);
    await expectCode(() => new BatchedCholeskyOrthogonalization([2, 2], 5), ErrorCodes.INVALID_ARG, TypeError);
  });

  it('the raw binding validates what reaches it (defense in depth), without crashing', async function () {
    const calls = [
      () => binding.tensorFromArray(null, [1], 'float32', 'cpu'),
      () => binding.tensorFromArray(new Float32Array(2), [3], 'float32', 'cpu'),
      () => binding.tensorFromArray(new Float32Array(2), [2], 'int', 'cpu'),
      () => binding.tensorFromArray(new Float32Array(2), [2], 'float32', 'gpu'),
      () => binding.tensorFromArray(new Float32Array(2), [2, -1], 'float32', 'cpu'),
      () => binding.tensorRandn([2], 'float32', 'cpu', -5),
      () => binding.tensorFill('ones', [2], 'float32', 'cpu'),
      () => new binding.NativeModule('bogus', [2, 2], {}),
      () => new binding.NativeModule('bjorck', [2], {}),
      () => new binding.NativeModule('bjorck', [2, 2], { niters: 'x' }),
      () => new binding.NativeModule('bjorck', [2, 2], { beta: Infinity }),
      () => new binding.NativeModule('qr', [2, 2], {}).forwardSync({}),
      () => new binding.NativeModule('qr', [2, 2], {}).getState('u'),
      () => binding.createChain({}, {}, true),
      () => binding.singularValuesSync(42),
      () => new binding.NativeTensor(),
    ];
    for (const call of calls) {
      let err;
      try {
        call();
      } catch (e) {
        err = e;
      }
      expect(err, String(call)).to.be.instanceOf(Error);
      expect(err.code, `${call}: ${err.message}`).to.match(/^ERR_ORTHO_/);
    }
  });
});
