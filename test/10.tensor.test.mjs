// Tensor: factories, copies, conversions, disposal, and argument errors.
import { DEVICE, Tensor, expect, expectCode, ortho } from './00.setup.mjs';

const { ErrorCodes } = ortho;

describe('Tensor.from()', function () {
  it('copies a Float32Array: later writes do not reach the tensor', function () {
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = Tensor.from(data, [2, 3], { device: DEVICE });
    data[0] = 100;
    expect(t.dtype).to.equal('float32');
    expect(t.shape).to.deep.equal([2, 3]);
    expect(t.device).to.equal(DEVICE === 'cuda' ? 'cuda:0' : DEVICE);
    expect(Array.from(t.toTypedArray())).to.deep.equal([1, 2, 3, 4, 5, 6]);
  });

  it('keeps float64 values exactly and follows the typed array dtype', function () {
    const data = new Float64Array([Math.PI, -1e-300, 1e300, 0.1]);
    const t = Tensor.from(data, [4], { device: DEVICE });
    expect(t.dtype).to.equal('float64');
    const back = t.toTypedArray();
    expect(back).to.be.instanceOf(Float64Array);
    expect(Array.from(back)).to.deep.equal(Array.from(data));
  });

  it('defaults number[] to float32 and honours dtype', function () {
    expect(Tensor.from([1, 2], [2]).dtype).to.equal('float32');
    const t = Tensor.from([0.1, 0.2], [2], { dtype: 'float64' });
    expect(t.dtype).to.equal('float64');
    expect(t.toTypedArray()[0]).to.equal(0.1);
  });

  it('converts between dtypes on request', function () {
    const t = Tensor.from(new Float64Array([0.1, 1 / 3]), [2], { dtype: 'float32', device: DEVICE });
    expect(t.dtype).to.equal('float32');
    expect(t.toTypedArray()[1]).to.equal(Math.fround(1 / 3));
  });

  it('returns a copy from toTypedArray()', function () {
    const t = Tensor.from([1, 2, 3], [3], { device: DEVICE });
    const a = t.toTypedArray();
    a[0] = 42;
    expect(t.toTypedArray()[0]).to.equal(1);
  });

  it('rejects a size mismatch naming both numbers', async function () {
    const err = await expectCode(() => Tensor.from([1, 2, 3], [2, 2]), ErrorCodes.SHAPE, RangeError);
    expect(err.message).to.contain('3').and.contain('4');
  });

  it('rejects bad shapes, dtypes, devices and data', async function () {
    await expectCode(() => Tensor.from([1], [0]), ErrorCodes.SHAPE, RangeError);
    await expectCode(() => Tensor.from([1], [-1]), ErrorCodes.SHAPE, RangeError);
    await expectCode(() => Tensor.from([1, 2], [1.5]), ErrorCodes.SHAPE, TypeError);
    await expectCode(() => Tensor.from([1], 'x'), ErrorCodes.SHAPE, TypeError);
    await expectCode(() => Tensor.from([1], [1], { dtype: 'int8' }), ErrorCodes.DTYPE, TypeError);
    await expectCode(() => Tensor.from([1], [1], { device: 'tpu' }), ErrorCodes.DEVICE, TypeError);
    await expectCode(() => Tensor.from(new Int32Array(1), [1]), ErrorCodes.INVALID_ARG, TypeError);
    await expectCode(() => Tensor.from(['a'], [1]), ErrorCodes.INVALID_ARG, TypeError);
    await expectCode(() => Tensor.from([1], [1], { color: 'red' }), ErrorCodes.INVALID_ARG, TypeError);
  });

  it('cannot be constructed directly', async function () {
    await expectCode(() => new Tensor(Symbol('x'), {}), ErrorCodes.INVALID_ARG, TypeError);
  });
});

describe('Tensor.randn()', function () {
  it('is reproducible by seed, and the same in both dtypes up to rounding', function () {
    const a = Tensor.randn([3, 4], { seed: 42, dtype: 'float64', device: DEVICE }).toTypedArray();
    const b = Tensor.randn([3, 4], { seed: 42, dtype: 'float64', device: DEVICE }).toTypedArray();
    const c = Tensor.randn([3, 4], { seed: 43, dtype: 'float64', device: DEVICE }).toTypedArray();
    const f = Tensor.randn([3, 4], { seed: 42, dtype: 'float32', device: DEVICE }).toTypedArray();
    expect(Array.from(a)).to.deep.equal(Array.from(b));
    expect(Array.from(a)).to.not.deep.equal(Array.from(c));
    expect(Array.from(f)).to.deep.equal(Array.from(a).map(Math.fround));
  });

  it('accepts bigint seeds and looks standard normal', function () {
    const x = Tensor.randn([20000], { seed: 2n ** 63n + 5n, dtype: 'float64' }).toTypedArray();
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
    expect(Math.abs(mean)).to.be.below(0.05);
    expect(Math.abs(variance - 1)).to.be.below(0.05);
  });

  it('differs between calls without a seed', function () {
    const a = Tensor.randn([8]).toTypedArray();
    const b = Tensor.randn([8]).toTypedArray();
    expect(Array.from(a)).to.not.deep.equal(Array.from(b));
  });

  it('rejects bad seeds', async function () {
    await expectCode(() => Tensor.randn([2], { seed: -1 }), ErrorCodes.INVALID_ARG);
    await expectCode(() => Tensor.randn([2], { seed: 1.5 }), ErrorCodes.INVALID_ARG);
    await expectCode(() => Tensor.randn([2], { seed: 'x' }), ErrorCodes.INVALID_ARG);
  });
});

describe('Tensor.zeros() / Tensor.eye()', function () {
  it('zeros', function () {
    const t = Tensor.zeros([2, 2], { dtype: 'float64', device: DEVICE });
    expect(Array.from(t.toTypedArray())).to.deep.equal([0, 0, 0, 0]);
  });

  it('eye(n) and batched rectangular eye', function () {
    expect(Array.from(Tensor.eye(2).toTypedArray())).to.deep.equal([1, 0, 0, 1]);
    const t = Tensor.eye([2, 2, 3], { device: DEVICE });
    expect(t.shape).to.deep.equal([2, 2, 3]);
    expect(Array.from(t.toTypedArray())).to.deep.equal([1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0]);
  });

  it('eye needs rank >= 2', async function () {
    await expectCode(() => Tensor.eye([3]), ErrorCodes.SHAPE, RangeError);
  });
});

describe('Tensor#to() / #reshape() / #clone()', function () {
  it('to() copies, converting dtype when asked', function () {
    const t = Tensor.from([1.5, 2.5], [2], { dtype: 'float64' });
    const u = t.to(DEVICE, 'float32');
    expect(u.dtype).to.equal('float32');
    expect(Array.from(u.toTypedArray())).to.deep.equal([1.5, 2.5]);
    t.dispose();
    expect(Array.from(u.toTypedArray())).to.deep.equal([1.5, 2.5]);
    expect(u.to('cpu').device).to.equal('cpu');
  });

  it('reshape() keeps the values and checks the element count', async function () {
    const t = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(Array.from(t.reshape([3, 2]).toTypedArray())).to.deep.equal([1, 2, 3, 4, 5, 6]);
    await expectCode(() => t.reshape([4, 2]), ErrorCodes.SHAPE, RangeError);
  });

  it('clone() is independent of dispose()', function () {
    const t = Tensor.from([1, 2], [2], { device: DEVICE });
    const c = t.clone();
    t.dispose();
    expect(Array.from(c.toTypedArray())).to.deep.equal([1, 2]);
  });
});

describe('Tensor#dispose()', function () {
  it('is idempotent and a disposed tensor says so when used', async function () {
    const t = Tensor.from([1, 2, 3, 4], [2, 2], { device: DEVICE });
    t.dispose();
    t.dispose();
    expect(t.disposed).to.equal(true);
    expect(t.shape).to.deep.equal([2, 2]); // metadata stays readable
    const err = await expectCode(() => t.toTypedArray(), ErrorCodes.DISPOSED);
    expect(err.message).to.contain('disposed');
    await expectCode(() => ortho.orthogonalityErrorSync(t), ErrorCodes.DISPOSED);
    expect(String(t)).to.contain('disposed');
  });

  it('supports `using`-style Symbol.dispose', function () {
    const t = Tensor.zeros([2]);
    t[Symbol.dispose]();
    expect(t.disposed).to.equal(true);
  });
});

describe('backends()', function () {
  it('lists the CPU with its threads and says why CUDA is off when it is', function () {
    const list = ortho.backends();
    const cpu = list.find((b) => b.name === 'cpu');
    expect(cpu.available).to.equal(true);
    expect(cpu.threads).to.be.a('number').and.at.least(1);
    const cuda = list.find((b) => b.name === 'cuda');
    expect(cuda).to.be.an('object');
    if (!cuda.available) expect(cuda.reason).to.be.a('string').with.length.greaterThan(10);
  });
});
