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
      await expectCode(() => ortho.singularValuesSync(x), ErrorCodes.NON_FINITE, RangeError);
      await expectCode(() => ortho.orthogonalityErrorSync(x), ErrorCodes.NON_FINITE, RangeError);
      expect(snapshot(x)).to.deep.equal(before);
    });
  }

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

describe('errors: Cholesky not positive definite', function () {
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
