// The CUDA backend.
//
// Everywhere: backends() reports cuda, and when CUDA is unavailable every way
// of asking for a 'cuda' tensor throws ERR_ORTHO_DEVICE carrying the reason
// backends() gives, while the CPU keeps working.
//
// With a GPU (skipped, with the reason, otherwise): parity with the CPU
// backend for every module, preset and diagnostic, forward and backward
// (float64 to 1e-10, float32 to 1e-4, relative to the largest value), on
// shapes chosen to reach every code path of the GPU primitives (batched and
// looped Cholesky, triangular solves, QR and SVD; fused and plain kernels);
// tensor round trips; dispose; many concurrent async calls; errors.
import { spawnSync } from 'node:child_process';

import { expect } from 'chai';

import {
  Tensor,
  backends,
  L2Normalize,
  BatchedPowerIteration,
  BatchedIdentity,
  BatchedBjorckOrthogonalization,
  BatchedCholeskyOrthogonalization,
  BatchedExponentialOrthogonalization,
  BatchedQROrthogonalization,
  BatchedPolarOrthogonalization,
  PRESETS,
  singularValuesSync,
  orthogonalityErrorSync,
} from '../index.mjs';

const cuda = backends().find((b) => b.name === 'cuda');
const hasCuda = Boolean(cuda && cuda.available);
const TOL = { float32: 1e-4, float64: 1e-10 };

/** Values of a tensor as a plain array. */
const values = (t) => Array.from(t.toTypedArray());

/** max |a - b| <= tol * max(1e-30, max |b|), with a message naming the worst entry. */
function expectClose(actual, expected, tol, what) {
  const a = values(actual);
  const b = values(expected);
  expect(actual.shape, `${what}: shape`).to.deep.equal(expected.shape);
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  const rel = worst / Math.max(scale, 1e-30);
  expect(rel, `${what}: relative difference ${rel} at index ${at} (gpu ${a[at]}, cpu ${b[at]})`).to.be.at.most(tol);
}

function expectDeviceError(fn, reason) {
  let err;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'an error').to.be.instanceOf(Error);
  expect(err.code).to.equal('ERR_ORTHO_DEVICE');
  expect(err.message).to.include(reason);
}

describe('backends() — cuda', () => {
  it('lists cuda with a precise reason when it is unavailable, devices when it is', () => {
    expect(cuda, 'a cuda entry').to.be.an('object');
    expect(cuda.available).to.be.a('boolean');
    if (cuda.available) {
      expect(cuda.deviceCount).to.be.at.least(1);
      expect(cuda.devices).to.have.length(cuda.deviceCount);
      expect(cuda.detail).to.match(/cuBLAS \d+\.\d+/).and.to.match(/cuSOLVER \d+\.\d+/);
    } else {
      expect(cuda.reason).to.be.a('string');
      // Says what is missing: the backend, the driver, a device, or a library file.
      expect(cuda.reason).to.match(/no CUDA backend|driver|device|libcublas|libcusolver|cudaGetDeviceCount/);
    }
  });
});

describe('CUDA unavailable', function () {
  before(function () {
    if (hasCuda) this.skip();
  });

  it("Tensor.from(…, { device: 'cuda' }) throws ERR_ORTHO_DEVICE with the reason", () => {
    expectDeviceError(() => Tensor.from(new Float32Array(4), [2, 2], { device: 'cuda' }), cuda.reason);
    expectDeviceError(() => Tensor.from([1, 2, 3, 4], [2, 2], { device: 'cuda:1' }), cuda.reason);
  });

  it("t.to('cuda') throws ERR_ORTHO_DEVICE with the reason", () => {
    const t = Tensor.from(new Float64Array([1, 2, 3, 4]), [2, 2]);
    expectDeviceError(() => t.to('cuda'), cuda.reason);
    expectDeviceError(() => t.to('cuda:0', 'float32'), cuda.reason);
  });

  it('Tensor.randn/zeros/eye on cuda throw ERR_ORTHO_DEVICE with the reason', () => {
    expectDeviceError(() => Tensor.randn([3, 4], { device: 'cuda', seed: 1 }), cuda.reason);
    expectDeviceError(() => Tensor.zeros([3, 4], { device: 'cuda' }), cuda.reason);
    expectDeviceError(() => Tensor.eye(3, { device: 'cuda' }), cuda.reason);
  });

  it('the CPU keeps working', async () => {
    const w = input([2, 6, 4], 'float64', 3);
    const y = await new BatchedBjorckOrthogonalization([2, 6, 4]).forward(w);
    expect(y.device).to.equal('cpu');
    expect(Math.max(...values(orthogonalityErrorSync(y)))).to.be.below(1e-6);
  });
});

// ---------------------------------------------------------------------------
// GPU parity.

/** Shapes that reach the different GPU code paths (see native/cuda/primitives.cpp). */
const SHAPES = [
  [5, 7], // single matrix: looped potrf/trsm/QR, gesvd
  [3, 8, 5], // tall batch: batched potrf/trsm, batched QR (UT transform), gesvdjBatched
  [2, 5, 8], // wide batch
  [4, 6, 6], // square
  [2, 70, 40], // looped QR (batch < m / 16), Björck too big for the fused kernel in float64
  [2, 70, 90], // trsm loop (n >= 64, batch <= 8) in Cholesky, plain Björck, fused power iteration
  [2, 3, 80, 72], // two batch dims
  [2, 260, 270], // potrf loop (n >= 256, batch <= 8), plain power iteration
];

/** Builds the same module twice (CPU and GPU copies share the seed). */
const MODULES = [
  ['BatchedIdentity', (s, g) => new BatchedIdentity(s, { requiresGrad: g })],
  ['BatchedPowerIteration', (s, g) => new BatchedPowerIteration(s, { requiresGrad: g, seed: 11, powerItNiter: 3, eps: 1e-6 })],
  ['BatchedBjorckOrthogonalization', (s, g) => new BatchedBjorckOrthogonalization(s, { requiresGrad: g, niters: 12 })],
  ['BatchedBjorckOrthogonalization passThrough', (s, g) => new BatchedBjorckOrthogonalization(s, { requiresGrad: g, passThrough: true })],
  ['BatchedCholeskyOrthogonalization', (s, g) => new BatchedCholeskyOrthogonalization(s, { requiresGrad: g })],
  ['BatchedCholeskyOrthogonalization stable', (s, g) => new BatchedCholeskyOrthogonalization(s, { requiresGrad: g, stable: true })],
  ['BatchedExponentialOrthogonalization', (s, g) => new BatchedExponentialOrthogonalization(s, { requiresGrad: g, niters: 12 })],
  ['BatchedQROrthogonalization', (s, g) => new BatchedQROrthogonalization(s, { requiresGrad: g })],
  ['BatchedPolarOrthogonalization', (s, g) => new BatchedPolarOrthogonalization(s, { requiresGrad: g })],
];

/**
 * A well-conditioned input: [I 0] plus small noise, so the singular values
 * lie in about [0.5, 1.5] and float32 rounding is not amplified (Cholesky of
 * X X^T squares the condition number).
 */
function input(shape, dtype, seed) {
  const m = shape[shape.length - 2];
  const n = shape[shape.length - 1];
  const r = Tensor.randn(shape, { dtype: 'float64', seed }).toTypedArray();
  const scale = 0.5 / (Math.sqrt(m) + Math.sqrt(n));
  const out = r.map((v) => v * scale);
  for (let b = 0; b < r.length / (m * n); b++) for (let d = 0; d < Math.min(m, n); d++) out[b * m * n + d * n + d] += 1;
  return Tensor.from(out, shape, { dtype });
}

/** Cholesky of X X^T + 1e-5 I is well-conditioned only for m <= n. */
const fits = (name, shape) => !name.startsWith('BatchedCholesky') || shape[shape.length - 2] <= shape[shape.length - 1];

async function forwardBackward(make, shape, x, g, device) {
  const mod = make(shape, true);
  const xd = x.to(device);
  const y = await mod.forward(xd);
  const gx = await mod.backward(g.to(device));
  expect(y.device).to.equal(device === 'cuda' ? 'cuda:0' : 'cpu');
  expect(gx.device).to.equal(y.device);
  return { y, gx, mod };
}

describe('CUDA backend (GPU)', function () {
  before(function () {
    if (!hasCuda) {
      console.log(`      (GPU specs skipped: ${cuda ? cuda.reason : 'no cuda entry in backends()'})`);
      this.skip();
    }
  });

  describe('tensors', () => {
    for (const dtype of ['float32', 'float64']) {
      it(`round trip ${dtype}: from, to('cuda'), toTypedArray, to('cpu')`, () => {
        const data = dtype === 'float32' ? Float32Array.from([1, -2, 3.5, 4, 5, 6]) : Float64Array.from([1, -2, 3.5, 4, 5, 1e-300]);
        const g = Tensor.from(data, [2, 3], { device: 'cuda' });
        expect(g.device).to.equal('cuda:0');
        expect(g.dtype).to.equal(dtype);
        expect(values(g)).to.deep.equal(Array.from(data));
        const c = Tensor.from(data, [2, 3]).to('cuda');
        expect(values(c.to('cpu'))).to.deep.equal(Array.from(data));
        const other = dtype === 'float32' ? 'float64' : 'float32';
        const conv = c.to('cuda', other);
        expect(conv.dtype).to.equal(other);
        expect(values(conv)).to.deep.equal(Array.from(dtype === 'float32' ? Float64Array.from(data) : Float32Array.from(data)));
      });
    }

    it('randn with a seed gives the same values on both devices; zeros and eye too', () => {
      for (const dtype of ['float32', 'float64']) {
        expect(values(Tensor.randn([3, 4, 5], { dtype, seed: 7, device: 'cuda' }))).to.deep.equal(values(Tensor.randn([3, 4, 5], { dtype, seed: 7 })));
        expect(values(Tensor.zeros([2, 3], { dtype, device: 'cuda' }))).to.deep.equal(values(Tensor.zeros([2, 3], { dtype })));
        expect(values(Tensor.eye([2, 3, 4], { dtype, device: 'cuda' }))).to.deep.equal(values(Tensor.eye([2, 3, 4], { dtype })));
      }
    });

    it('dispose() frees now and later use says so', () => {
      const t = Tensor.randn([64, 64], { device: 'cuda', seed: 1 });
      t.dispose();
      t.dispose(); // idempotent
      expect(() => t.toTypedArray()).to.throw().with.property('code', 'ERR_ORTHO_DISPOSED');
    });

    it('many allocations and frees reuse the cache (no growth, no failure)', async () => {
      for (let i = 0; i < 200; i++) {
        const t = Tensor.randn([8, 33, 17], { device: 'cuda', seed: i });
        const y = await new BatchedBjorckOrthogonalization([8, 33, 17], { niters: 2 }).forward(t);
        t.dispose();
        y.dispose();
      }
    });
  });

  for (const dtype of ['float32', 'float64']) {
    describe(`module parity with the CPU (${dtype})`, () => {
      for (const [name, make] of MODULES) {
        for (const shape of SHAPES.filter((sh) => fits(name, sh))) {
          it(`${name} [${shape.join(', ')}] forward and backward`, async () => {
            const x = input(shape, dtype, 5);
            const g = Tensor.randn(shape, { dtype, seed: 6 });
            const cpu = await forwardBackward(make, shape, x, g, 'cpu');
            const gpu = await forwardBackward(make, shape, x, g, 'cuda');
            expectClose(gpu.y, cpu.y, TOL[dtype], 'forward');
            expectClose(gpu.gx, cpu.gx, TOL[dtype], 'backward');
            if (name === 'BatchedPowerIteration') {
              expectClose(gpu.mod.u, cpu.mod.u, TOL[dtype], 'state u');
              expectClose(gpu.mod.v, cpu.mod.v, TOL[dtype], 'state v');
              // Warm start: a second call continues from the updated state.
              const y2g = gpu.mod.forwardSync(x.to('cuda'));
              const y2c = cpu.mod.forwardSync(x);
              expectClose(y2g, y2c, TOL[dtype], 'second forward');
            }
          });
        }
      }

      it('forward without requiresGrad (fused paths) equals the recorded forward', async () => {
        for (const shape of [[3, 8, 5], [64, 32, 32], [2, 5, 8]]) {
          const x = input(shape, dtype, 9).to('cuda');
          for (const [name, make] of MODULES.filter(([nm]) => fits(nm, shape))) {
            const a = await make(shape, false).forward(x);
            const b = await make(shape, true).forward(x);
            expectClose(a, b, TOL[dtype], `${name} [${shape.join(', ')}]`);
            const c = make(shape, false).forwardSync(x.to('cpu'));
            expectClose(a, c, TOL[dtype], `${name} [${shape.join(', ')}] vs cpu`);
          }
        }
      });

      /** L2Normalize over `dim` (undefined: the default) on both devices, forward and backward. */
      async function l2Parity(shape, dim, seed) {
        const x = Tensor.randn(shape, { dtype, seed });
        const g = Tensor.randn(shape, { dtype, seed: seed + 1 });
        const run = async (device) => {
          const m = new L2Normalize(dim === undefined ? { requiresGrad: true } : { dim, requiresGrad: true });
          const y = await m.forward(x.to(device));
          return { y, gx: await m.backward(g.to(device)) };
        };
        const c = await run('cpu');
        const d = await run('cuda');
        const what = `L2Normalize [${shape.join(', ')}] dim ${JSON.stringify(dim)}`;
        expectClose(d.y, c.y, TOL[dtype], `${what} forward`);
        expectClose(d.gx, c.gx, TOL[dtype], `${what} backward`);
      }

      it('L2Normalize over every kind of dims', async () => {
        for (const dim of [undefined, 0, 1, -1, [0, 2], [0, 1], [1, 2], [0, 1, 2]]) await l2Parity([3, 4, 5], dim, 2);
      });

      it('reductions over a few large groups (split into chunks on the GPU) equal the CPU', async () => {
        // Groups above 8192 elements, fewer than 1024 of them: the GPU sums
        // each in chunks, then adds the chunks (native/cuda/group_dot.cuh).
        // Contiguous groups of 9000 (8192 + an uneven 808) and one of 27000;
        // two strided groups of 12000.
        await l2Parity([3, 100, 90], [1, 2], 12);
        await l2Parity([3, 100, 90], [0, 1, 2], 12);
        await l2Parity([40, 2, 300], [0, 2], 15);
        const w = Tensor.randn([2, 100, 96], { dtype, seed: 14 });
        expectClose(orthogonalityErrorSync(w.to('cuda')), orthogonalityErrorSync(w), TOL[dtype], 'orthogonalityError [2, 100, 96]');
      });

      for (const [preset, params] of Object.entries(PRESETS)) {
        for (const shape of [[4, 9, 12], [16, 16], [2, 6, 20]]) {
          it(`preset ${preset} [${shape.join(', ')}] forward and backward`, async () => {
            const x = input(shape, dtype, 21);
            const g = Tensor.randn(shape, { dtype, seed: 22 });
            const run = async (device) => {
              const m = params.build(shape, { requiresGrad: true, seed: 4 });
              const y = await m.forward(x.to(device));
              return { y, gx: await m.backward(g.to(device)) };
            };
            const c = await run('cpu');
            const d = await run('cuda');
            expectClose(d.y, c.y, TOL[dtype], 'forward');
            expectClose(d.gx, c.gx, TOL[dtype], 'backward');
          });
        }
      }

      it('singularValues and orthogonalityError', () => {
        for (const shape of [[3, 8, 5], [2, 5, 8], [40, 33], [2, 70, 40], [6, 6]]) {
          const x = Tensor.randn(shape, { dtype, seed: 31 });
          const xg = x.to('cuda');
          expectClose(singularValuesSync(xg), singularValuesSync(x), TOL[dtype], `singularValues [${shape.join(', ')}]`);
          expectClose(orthogonalityErrorSync(xg), orthogonalityErrorSync(x), TOL[dtype], `orthogonalityError [${shape.join(', ')}]`);
        }
      });
    });
  }

  describe('concurrency', () => {
    it('many async forwards on one module equal the same calls made one by one', async () => {
      const shape = [16, 12, 10];
      const xs = Array.from({ length: 24 }, (_, i) => Tensor.randn(shape, { seed: 100 + i, device: 'cuda' }));
      const make = () => PRESETS.default.build(shape, { seed: 5 });
      const m1 = make();
      const seq = [];
      for (const x of xs) seq.push(m1.forwardSync(x));
      const m2 = make();
      const par = await Promise.all(xs.map((x) => m2.forward(x)));
      par.forEach((y, i) => expect(values(y), `call ${i}`).to.deep.equal(values(seq[i])));
    });

    it('many modules in flight at once give the results of sequential runs', async () => {
      const cases = Array.from({ length: 32 }, (_, i) => {
        const preset = Object.keys(PRESETS)[i % Object.keys(PRESETS).length];
        const shape = [1 + (i % 5), 6 + (i % 7), 5 + (i % 3)];
        return { preset, shape, x: Tensor.randn(shape, { seed: 200 + i, dtype: i % 2 ? 'float64' : 'float32', device: 'cuda' }) };
      });
      const seq = cases.map((c) => PRESETS[c.preset].build(c.shape, { seed: 9 }).forwardSync(c.x));
      const par = await Promise.all(cases.map((c) => PRESETS[c.preset].build(c.shape, { seed: 9 }).forward(c.x)));
      par.forEach((y, i) => expect(values(y), `case ${i}`).to.deep.equal(values(seq[i])));
    });
  });

  describe('errors', () => {
    it('NOT_POSITIVE_DEFINITE from the GPU Cholesky names the matrix', async () => {
      // Matrix 1 has two equal rows of norm^2 = 2^26: in float32 X X^T + 1e-5 I
      // rounds to a singular matrix exactly (second pivot 2^26 - 2^26 = 0).
      const data = new Float32Array(2 * 2 * 3);
      data.set([1, 0, 0, 0, 1, 0], 0);
      data.set([8192, 0, 0, 8192, 0, 0], 6);
      const x = Tensor.from(data, [2, 2, 3], { device: 'cuda' });
      const mod = new BatchedCholeskyOrthogonalization([2, 2, 3]);
      let err;
      try {
        await mod.forward(x);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(Error);
      expect(err.code).to.equal('ERR_ORTHO_NOT_POSITIVE_DEFINITE');
      expect(err.message).to.include('matrix 1');
      // The same on the CPU.
      expect(() => mod.forwardSync(x.to('cpu'))).to.throw().with.property('code', 'ERR_ORTHO_NOT_POSITIVE_DEFINITE');
    });

    it('non-finite input is rejected on the GPU and the module state is unchanged', async () => {
      const shape = [2, 4, 3];
      const data = new Float64Array(24).fill(0.1);
      data[17] = NaN;
      const bad = Tensor.from(data, shape, { device: 'cuda' });
      const mod = new BatchedPowerIteration(shape, { seed: 1 });
      const u0 = values(mod.u);
      let err;
      try {
        await mod.forward(bad);
      } catch (e) {
        err = e;
      }
      expect(err.code).to.equal('ERR_ORTHO_NON_FINITE');
      expect(values(mod.u)).to.deep.equal(u0);
    });

    it('a device that does not exist is a precise ERR_ORTHO_DEVICE', () => {
      const n = cuda.deviceCount;
      expect(() => Tensor.zeros([2, 2], { device: `cuda:${n}` }))
        .to.throw()
        .with.property('code', 'ERR_ORTHO_DEVICE');
    });

    it('ORTHO_CUDA_PROFILE=1 reports each primitive call with its enclosing calls, results unchanged', () => {
      // A child process: the switch is read once per process.
      const script = `
        import { Tensor, BatchedQROrthogonalization, BatchedCholeskyOrthogonalization } from ${JSON.stringify(new URL('../index.mjs', import.meta.url).href)};
        const x = Tensor.randn([1, 70, 40], { dtype: 'float64', seed: 3, device: 'cuda' });
        const q = new BatchedQROrthogonalization([1, 70, 40]).forwardSync(x);
        const y = Tensor.randn([2, 30, 50], { dtype: 'float64', seed: 4, device: 'cuda' });
        const c = new BatchedCholeskyOrthogonalization([2, 30, 50]).forwardSync(y);
        process.stdout.write(JSON.stringify([...q.toTypedArray(), ...c.toTypedArray()]));`;
      const run = (env) => spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, ...env }, encoding: 'utf8', timeout: 600000,
      });
      const on = run({ ORTHO_CUDA_PROFILE: '1', ORTHO_FUSED: '0' });
      const off = run({ ORTHO_CUDA_PROFILE: '0', ORTHO_FUSED: '0' });
      expect(on.status, on.stderr).to.equal(0);
      expect(off.status, off.stderr).to.equal(0);
      expect(on.stdout).to.equal(off.stdout);
      expect(off.stderr).to.not.include('ortho-prim');
      const lines = on.stderr.split('\n').filter((l) => l.startsWith('ortho-prim '));
      const paths = lines.map((l) => l.split(' ')[1]);
      for (const p of ['qr/geqrf', 'qr/orgqr', 'qr', 'scalarMap', 'groupScale', 'syrk/gemm', 'syrk', 'potrf', 'trsm', 'countNonFinite'])
        expect(paths, p).to.include(p);
      for (const l of lines) expect(l).to.match(/^ortho-prim \S+ \d+\.\d{4}$/);
      // An inner call ends, and is reported, before its enclosing one.
      expect(paths.indexOf('qr/geqrf')).to.be.below(paths.indexOf('qr'));
    });

    it('mixing devices in one module is refused', async () => {
      const mod = new BatchedPowerIteration([3, 3], { seed: 1 });
      await mod.forward(Tensor.randn([3, 3], { device: 'cuda', seed: 1 }));
      expect(() => mod.forwardSync(Tensor.randn([3, 3], { seed: 1 }))).to.throw().with.property('code', 'ERR_ORTHO_DEVICE');
    });
  });
});
