// The `precision` option ('fp32', 'tf32', 'bf16') of the Björck and polar
// orthogonalizers and of OrthoParams.build:
// - options: the default, bad values (codes), build() handing it to the
//   orthogonalizer, and refusing it for orthogonalizers without iterated
//   products (Cholesky, QR, exponential);
// - where the reduced arithmetic does not exist (the CPU; float64 on every
//   device): 'tf32' and 'bf16' compute bit for bit what 'fp32' does;
// - where it does (float32 on CUDA: a GPU, or tools/cuda-emu, whose fake
//   cuBLAS rounds the inputs of cublasGemmStridedBatchedEx to TF32 or
//   bfloat16): against the float64 Björck of the reference (ref.bjorck),
//   the orthogonality error ‖QᵀQ − I‖_F is at most 2x float32's + 1e-6, the
//   distance to the float32 result is within 4e-3 (TF32) or 3e-2 (bfloat16)
//   relative (and not zero: the reduced arithmetic ran), and the backward
//   agrees with central differences of the float64 reference: along random
//   directions d, |<dX, d> − FD| / ‖dX‖_F (the gradient's error seen along
//   d, relative to its size) is within 1e-2 (TF32) or 5e-2 (bfloat16),
//   and 1e-5 for float32 as a control (measured under the emulator on
//   these shapes: at most 3.1e-3, 1.6e-2 and 7e-7); shapes the fused
//   kernels take (min(m, n) <= 64) are float32 throughout, bit for bit;
// - polar in reduced precision: it still converges to tol (the tail is
//   float32), with at most 2 steps more than float32 and nothing listed
//   below the lower bound; like Björck's, its result is the polar factor of
//   an input perturbed by the rounding, so it is held to the same distance
//   and backward bounds (against the float64 SVD polar factor: measured
//   under the emulator on these shapes, distance 1.2e-3-1.3e-3 TF32 and
//   0.95e-2-1.1e-2 bfloat16, backward 1.2e-3 and 1.0e-2).
import {
  DEVICE,
  FUSED,
  M,
  ON_GPU,
  Tensor,
  expect,
  expectCode,
  fromMats,
  mats,
  ortho,
  ref,
  rng,
  wellConditioned,
} from './00.setup.mjs';

const {
  BatchedBjorckOrthogonalization,
  BatchedCholeskyOrthogonalization,
  BatchedPolarOrthogonalization,
  OrthoParams,
  PRESETS,
  classParam,
  ErrorCodes,
} = ortho;

const REDUCED = ['tf32', 'bf16'];
// Relative distance to the float32 result, and the backward's relative
// error against central differences, per precision.
const DISTANCE = { tf32: 4e-3, bf16: 3e-2 };
const BACKWARD = { fp32: 1e-5, tf32: 1e-2, bf16: 5e-2 };

function bytesOf(t) {
  return Buffer.from(t.toTypedArray().buffer).toString('base64');
}

// ‖QᵀQ − I‖_F (or ‖QQᵀ − I‖_F for wide Q) per matrix, in float64.
function orthErrors(t) {
  return mats(t).map((q) => {
    const g = q.r >= q.c ? M.mul(M.t(q), q) : M.mul(q, M.t(q));
    let s = 0;
    for (let i = 0; i < g.r; i++) for (let j = 0; j < g.c; j++) s += (g.a[i * g.c + j] - (i === j ? 1 : 0)) ** 2;
    return Math.sqrt(s);
  });
}

// ‖a − b‖_F / ‖b‖_F over the whole tensor.
function relDistance(a, b) {
  const x = a.toTypedArray(), y = b.toTypedArray();
  let num = 0, den = 0;
  for (let i = 0; i < x.length; i++) {
    num += (x[i] - y[i]) ** 2;
    den += y[i] ** 2;
  }
  return Math.sqrt(num / den);
}

function input(shape, seed, dtype = 'float32') {
  const g = rng(seed);
  const [r, c] = shape.slice(-2);
  const batch = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return fromMats(Array.from({ length: batch }, () => wellConditioned(r, c, g, 0.2, 1)), shape.slice(0, -2), dtype, DEVICE);
}

describe('precision: options', () => {
  it("defaults to 'fp32' and keeps what it was given (Björck, polar)", () => {
    for (const Cls of [BatchedBjorckOrthogonalization, BatchedPolarOrthogonalization]) {
      expect(new Cls([8, 6]).precision).to.equal('fp32');
      for (const p of ['fp32', ...REDUCED]) expect(new Cls([8, 6], { precision: p }).precision).to.equal(p);
    }
  });

  it('rejects values other than fp32, tf32 and bf16', async () => {
    for (const Cls of [BatchedBjorckOrthogonalization, BatchedPolarOrthogonalization]) {
      await expectCode(() => new Cls([8, 6], { precision: 'fp16' }), ErrorCodes.INVALID_ARG, RangeError);
      await expectCode(() => new Cls([8, 6], { precision: 'TF32' }), ErrorCodes.INVALID_ARG, RangeError);
      await expectCode(() => new Cls([8, 6], { precision: 32 }), ErrorCodes.INVALID_ARG, TypeError);
    }
    await expectCode(() => PRESETS.default.build([8, 6], { precision: null }), ErrorCodes.INVALID_ARG, TypeError);
  });

  it("build() hands it to the Björck and polar orthogonalizers (presets default, test, bjorck-pass-through, polar)", () => {
    for (const name of ['default', 'test', 'bjorck-pass-through', 'polar'])
      for (const p of REDUCED) expect(PRESETS[name].build([8, 6], { precision: p }).orthogonalizer.precision).to.equal(p);
    expect(PRESETS.default.build([8, 6]).orthogonalizer.precision).to.equal('fp32');
    const custom = new OrthoParams({ orthogonalizer: classParam(BatchedBjorckOrthogonalization, { niters: 3, precision: 'bf16' }) });
    expect(custom.build([8, 6]).orthogonalizer.precision).to.equal('bf16');
    expect(custom.build([8, 6], { precision: 'tf32' }).orthogonalizer.precision).to.equal('tf32');
  });

  it('build() refuses a reduced precision for orthogonalizers without iterated products, and accepts fp32', async () => {
    for (const name of ['cholesky', 'cholesky-stable', 'qr', 'exp']) {
      const err = await expectCode(() => PRESETS[name].build([8, 6], { precision: 'tf32' }), ErrorCodes.INVALID_ARG, RangeError);
      expect(err.message).to.match(/BatchedBjorckOrthogonalization/);
      expect(PRESETS[name].build([8, 6], { precision: 'fp32' })).to.be.ok;
    }
    // A hand-written factory decides for itself: here, Cholesky's unknown-option error.
    const hand = new OrthoParams({ orthogonalizer: (s, o) => new BatchedCholeskyOrthogonalization(s, o) });
    await expectCode(() => hand.build([8, 6], { precision: 'bf16' }), ErrorCodes.INVALID_ARG, TypeError);
  });
});

describe(`precision: results (${DEVICE})`, () => {
  // float64 never has the reduced arithmetic; float32 has it on CUDA only.
  const cases = [
    { dtype: 'float64', reduced: false },
    { dtype: 'float32', reduced: ON_GPU },
  ];
  for (const { dtype, reduced } of cases) {
    if (reduced) continue;
    for (const Cls of [BatchedBjorckOrthogonalization, BatchedPolarOrthogonalization]) {
      it(`${dtype} ${Cls.name}: tf32 and bf16 compute exactly what fp32 does, forward and backward`, () => {
        for (const shape of [[2, 96, 80], [1, 72, 150], [3, 20, 12]]) {
          const x = input(shape, 11, dtype);
          const g = input(shape, 12, dtype);
          const run = (precision) => {
            const m = new Cls(shape, { precision, requiresGrad: true });
            return [bytesOf(m.forwardSync(x)), bytesOf(m.backwardSync(g))];
          };
          const want = run('fp32');
          for (const p of REDUCED) expect(run(p), `${p} ${shape}`).to.deep.equal(want);
        }
      });
    }
  }

  const reducedHere = ON_GPU;
  const shapes = [[2, 96, 80], [1, 72, 150], [1, 200, 130]];
  for (const p of REDUCED) {
    for (const shape of shapes) {
      it(`float32 ${p} [${shape}]: orthogonality as float32's, near the float32 result`, function () {
        if (!reducedHere) this.skip();  // CPU: covered by the bit-for-bit spec above
        const x = input(shape, 21);
        const full = new BatchedBjorckOrthogonalization(shape).forwardSync(x);
        const low = new BatchedBjorckOrthogonalization(shape, { precision: p }).forwardSync(x);
        const eFull = orthErrors(full), eLow = orthErrors(low);
        eLow.forEach((e, b) => expect(e, `matrix ${b}: ${e} vs float32 ${eFull[b]}`).to.be.at.most(2 * eFull[b] + 1e-6));
        const dist = relDistance(low, full);
        expect(dist, 'distance to the float32 result').to.be.at.most(DISTANCE[p]);
        expect(dist, 'the reduced arithmetic changed nothing').to.be.greaterThan(0);
      });
    }
  }

  for (const p of ['fp32', ...REDUCED]) {
    it(`float32 ${p}: backward against central differences of the float64 reference`, function () {
      if (!reducedHere) this.skip();
      const cases = [[[1, 96, 80], false], [[1, 72, 150], false], [[1, 96, 80], true], [[1, 200, 130], false]];
      for (const [shape, passThrough] of cases) {
        const niters = 12;
        const x = input(shape, 31);
        const G = input(shape, 32);
        const m = new BatchedBjorckOrthogonalization(shape, { precision: p, niters, passThrough, requiresGrad: true });
        m.forwardSync(x);
        const dX = mats(m.backwardSync(G))[0];
        const X = mats(x)[0], Gm = mats(G)[0];
        const scale = Math.sqrt(dX.a.reduce((s, v) => s + v * v, 0));
        // passThrough's gradient is the last step's VJP at that step's input:
        // differentiate one step at the float64 reference's input to it.
        const at = passThrough ? ref.bjorck(X, 0.5, niters) : X;
        const f = (w) => ref.bjorck(w, 0.5, passThrough ? 1 : niters);
        const g = rng(33);
        const h = 1e-6;
        for (let k = 0; k < 2; k++) {
          const d = M.randn(at.r, at.c, g);
          const fp = f(M.add(at, d, 1, h)), fm = f(M.add(at, d, 1, -h));
          let num = 0, ana = 0;
          for (let i = 0; i < d.a.length; i++) {
            num += (Gm.a[i] * (fp.a[i] - fm.a[i])) / (2 * h);
            ana += dX.a[i] * d.a[i];
          }
          const e = Math.abs(num - ana) / scale;
          expect(e, `[${shape}] passThrough ${passThrough}: ${ana} vs ${num}`).to.be.at.most(BACKWARD[p]);
        }
      }
    });
  }

  for (const p of REDUCED) {
    it(`float32 polar ${p}: converges to tol, near the float32 result, backward within bounds`, function () {
      if (!reducedHere) this.skip();
      for (const shape of [[2, 96, 80], [1, 72, 150], [1, 200, 130]]) {
        const x = input(shape, 51);
        const full = new BatchedPolarOrthogonalization(shape);
        const low = new BatchedPolarOrthogonalization(shape, { precision: p, requiresGrad: true });
        const qFull = full.forwardSync(x), qLow = low.forwardSync(x);
        const dg = low.lastDiagnostics;
        expect(dg.converged, `[${shape}] residual ${dg.residual} tol ${dg.tol}`).to.equal(true);
        expect(dg.belowLowerBound).to.deep.equal([]);
        expect(dg.iterations, `[${shape}] ${dg.iterations} vs float32 ${full.lastIterations}`).to.be.at.most(full.lastIterations + 2);
        const dist = relDistance(qLow, qFull);
        expect(dist, `[${shape}] distance to the float32 result`).to.be.at.most(DISTANCE[p]);
        expect(bytesOf(qLow), 'the reduced arithmetic changed nothing').to.not.equal(bytesOf(qFull));
      }
      const shape = [1, 96, 80];
      const x = input(shape, 52), G = input(shape, 53);
      const m = new BatchedPolarOrthogonalization(shape, { precision: p, requiresGrad: true });
      m.forwardSync(x);
      const dX = mats(m.backwardSync(G))[0];
      const X = mats(x)[0], Gm = mats(G)[0];
      const scale = Math.sqrt(dX.a.reduce((s, v) => s + v * v, 0));
      const g = rng(54);
      const h = 1e-6;
      for (let k = 0; k < 2; k++) {
        const d = M.randn(X.r, X.c, g);
        const fp = ref.polarSvd(M.add(X, d, 1, h)), fm = ref.polarSvd(M.add(X, d, 1, -h));
        let num = 0, ana = 0;
        for (let i = 0; i < d.a.length; i++) {
          num += (Gm.a[i] * (fp.a[i] - fm.a[i])) / (2 * h);
          ana += dX.a[i] * d.a[i];
        }
        expect(Math.abs(num - ana) / scale, `${ana} vs ${num}`).to.be.at.most(BACKWARD[p]);
      }
    });
  }

  it('float32: shapes the fused kernels take run in float32 throughout', function () {
    if (!reducedHere || !FUSED) this.skip();
    const shape = [4, 48, 40];
    const x = input(shape, 41);
    const want = bytesOf(new BatchedBjorckOrthogonalization(shape).forwardSync(x));
    for (const p of REDUCED) expect(bytesOf(new BatchedBjorckOrthogonalization(shape, { precision: p }).forwardSync(x)), p).to.equal(want);
  });

  it('float32: the default and polar presets built with tf32 and bf16', function () {
    if (!reducedHere) this.skip();
    const shape = [1, 160, 96];
    const x = Tensor.randn(shape, { seed: 5, device: DEVICE });
    for (const name of ['default', 'polar']) {
      const full = PRESETS[name].build(shape, { seed: 1 }).forwardSync(x);
      for (const p of REDUCED) {
        const low = PRESETS[name].build(shape, { seed: 1, precision: p }).forwardSync(x);
        expect(orthErrors(low)[0], `${name} ${p}`).to.be.at.most(2 * orthErrors(full)[0] + 1e-6);
        expect(relDistance(low, full), `${name} ${p}`).to.be.at.most(DISTANCE[p]);
      }
    }
  });
});
