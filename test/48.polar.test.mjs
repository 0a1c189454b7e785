// BatchedPolarOrthogonalization and the polar preset, against the float64
// SVD polar factor of ml-matrix (ref.polarSvd in 00.setup.mjs):
// - the run-time coefficient schedule: the composed polynomials carry
//   [lowerBound, 1] near 1;
// - forward on Gaussian, power-law and log-uniform spectra, tall, square,
//   wide and batched (mixed conditioning in one batch): float32 residual
//   ‖QᵀQ − I‖_F/√k ≤ 5e-6 and distance ‖Q − UVᵀ‖_F/√k ≤ 2e-4 for κ ≤ 1e3;
//   float64 residual ≤ 1e-12 and distance ≤ 1e-9 for κ ≤ 1e6 (residual and
//   distance computed here in float64 from the returned values);
// - stalled input (rank-deficient, float32 and float64): an error by
//   default, flagged in the diagnostics with onStall 'flag';
// - backward against central differences of the SVD polar (float64);
// - the CPU's fused per-matrix forward (min(m, n) from 8 to 64, max(m, n) up
//   to 256) on batches of mixed conditioning with a rank-deficient matrix:
//   against the SVD polar factor, and stopping exactly as the plain
//   sequence of batched primitives does (ORTHO_FUSED=0, in a child);
// - bad input and options: the codes every module uses.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  DEVICE,
  M,
  Tensor,
  expect,
  expectCode,
  fromMats,
  mats,
  ortho,
  ref,
  rng,
} from './00.setup.mjs';

const { BatchedPolarOrthogonalization, POLAR_ORTHO_PARAMS, PRESETS, classParam, ErrorCodes } = ortho;

// U diag(s) Vᵀ with Haar-like U, V from the reference QR.
function withSpectrum(r, c, s, g) {
  const k = Math.min(r, c);
  const U = M.qrPositive(M.randn(r, k, g)).Q;
  const V = M.qrPositive(M.randn(c, k, g)).Q;
  const S = M.zeros(k, k);
  for (let i = 0; i < k; i++) S.a[i * k + i] = s[i];
  return M.mul(M.mul(U, S), M.t(V));
}

const SPECTRA = {
  gaussian: (r, c, g) => M.randn(r, c, g),
  'power law σᵢ = 1/i': (r, c, g) => withSpectrum(r, c, Array.from({ length: Math.min(r, c) }, (_, i) => 1 / (i + 1)), g),
  logUniform: (kappa) => (r, c, g) => {
    const k = Math.min(r, c);
    return withSpectrum(r, c, Array.from({ length: k }, (_, i) => kappa ** (-i / (k - 1))), g);
  },
};

function spectraFor(dtype) {
  const list = [
    ['gaussian', SPECTRA.gaussian],
    ['power law σᵢ = 1/i', SPECTRA['power law σᵢ = 1/i']],
    ['κ = 1e3', SPECTRA.logUniform(1e3)],
  ];
  if (dtype === 'float64') list.push(['κ = 1e4', SPECTRA.logUniform(1e4)], ['κ = 1e6', SPECTRA.logUniform(1e6)]);
  return list;
}

const LIMITS = { float32: { residual: 5e-6, dist: 2e-4 }, float64: { residual: 1e-12, dist: 1e-9 } };

// ‖QᵀQ − I‖_F/√k (or QQᵀ for wide) and ‖Q − P‖_F/√k, in float64.
function quality(Q, P) {
  const k = Math.min(Q.r, Q.c);
  const G = Q.r >= Q.c ? M.mul(M.t(Q), Q) : M.mul(Q, M.t(Q));
  let r = 0;
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) r += (G.a[i * k + j] - (i === j ? 1 : 0)) ** 2;
  let d = 0;
  for (let i = 0; i < Q.a.length; i++) d += (Q.a[i] - P.a[i]) ** 2;
  return { residual: Math.sqrt(r / k), dist: Math.sqrt(d / k) };
}

function checkAgainstSvd(list, batchShape, dtype, opts = {}) {
  const x = fromMats(list, batchShape, dtype);
  const m = new BatchedPolarOrthogonalization(x.shape, opts);
  const y = m.forwardSync(x);
  expect(y.shape).to.deep.equal(x.shape);
  expect(y.dtype).to.equal(dtype);
  const inputs = mats(x); // as rounded to dtype
  const worst = { residual: 0, dist: 0 };
  mats(y).forEach((Q, b) => {
    const q = quality(Q, ref.polarSvd(inputs[b]));
    worst.residual = Math.max(worst.residual, q.residual);
    worst.dist = Math.max(worst.dist, q.dist);
  });
  return { worst, m, y };
}

describe('BatchedPolarOrthogonalization.schedule()', function () {
  it('composes to within 3e-2 of 1 (1e-2 before the safety factor) over [lowerBound, 1], every step staying in (0, 2)', function () {
    for (const lb of [1e-3, 1e-5, 1e-7]) {
      const s = BatchedPolarOrthogonalization.schedule(lb);
      expect(s.length).to.be.within(4, 20);
      for (let i = 0; i <= 2000; i++) {
        const x = lb * (1 / lb) ** (i / 2000);
        let y = x;
        for (const [a, b, c] of s) {
          const z = a * y + b * y ** 3 + c * y ** 5;
          expect(z, `step maps ${y} to ${z}`).to.be.within(1e-300, 2);
          y = z;
        }
        expect(Math.abs(y - 1), `φ(${x}) = ${y}`).to.be.at.most(3e-2);
      }
    }
  });

  it('needs more steps for a smaller lower bound, and rejects one outside (0, 1)', async function () {
    expect(BatchedPolarOrthogonalization.schedule(1e-7).length).to.be.greaterThan(BatchedPolarOrthogonalization.schedule(1e-3).length);
    await expectCode(() => BatchedPolarOrthogonalization.schedule(0), ErrorCodes.INVALID_ARG, RangeError);
    await expectCode(() => BatchedPolarOrthogonalization.schedule(1.5), ErrorCodes.INVALID_ARG, RangeError);
  });
});

describe('BatchedPolarOrthogonalization#forward() against the SVD polar factor', function () {
  const shapes = [
    [40, 24],
    [32, 32],
    [20, 36],
  ];
  for (const dtype of ['float32', 'float64']) {
    for (const [name, make] of spectraFor(dtype)) {
      it(`${dtype}, ${name}: tall, square and wide within the limits`, function () {
        const g = rng(name.length * 31 + dtype.length);
        for (const [r, c] of shapes) {
          const { worst, m } = checkAgainstSvd([make(r, c, g)], [], dtype);
          const lim = LIMITS[dtype];
          expect(worst.residual, `[${r},${c}] residual`).to.be.at.most(lim.residual);
          expect(worst.dist, `[${r},${c}] distance`).to.be.at.most(lim.dist);
          expect(m.lastConverged).to.equal(true);
          expect(m.lastResidual).to.be.at.most(m.lastDiagnostics.tol);
          expect(m.lastIterations).to.be.within(1, 50);
        }
      });
    }
    it(`${dtype}: a batch [2, 3] of mixed conditioning, sync and async alike`, async function () {
      const g = rng(5);
      const kappa = dtype === 'float64' ? 1e6 : 1e3;
      const makers = [SPECTRA.gaussian, SPECTRA.logUniform(kappa), SPECTRA['power law σᵢ = 1/i']];
      const list = Array.from({ length: 6 }, (_, i) => makers[i % 3](24, 16, g));
      const { worst, m, y } = checkAgainstSvd(list, [2, 3], dtype);
      expect(worst.residual).to.be.at.most(LIMITS[dtype].residual);
      expect(worst.dist).to.be.at.most(LIMITS[dtype].dist);
      const d = m.lastDiagnostics;
      expect(d.residuals.length).to.equal(6);
      expect(d.stalled).to.deep.equal([]);
      const x = fromMats(list, [2, 3], dtype);
      const ya = await m.forward(x);
      expect(Array.from(ya.toTypedArray())).to.deep.equal(Array.from(y.toTypedArray()));
    });
  }

  it('tol is honoured: a looser tol stops earlier with a larger residual', function () {
    const x = fromMats([SPECTRA.logUniform(1e4)(32, 32, rng(9))], [], 'float64');
    const tight = new BatchedPolarOrthogonalization([32, 32]);
    const loose = new BatchedPolarOrthogonalization([32, 32], { tol: 1e-3 });
    tight.forwardSync(x);
    loose.forwardSync(x);
    expect(loose.lastResidual).to.be.at.most(1e-3);
    expect(loose.lastIterations).to.be.lessThan(tight.lastIterations);
    expect(tight.lastDiagnostics.tol).to.equal(1e-13);
  });

  it('float64 κ = 1e8, below lowerBound: converges through the tail and is listed in belowLowerBound', function () {
    const W = SPECTRA.logUniform(1e8)(24, 16, rng(13));
    const { worst, m } = checkAgainstSvd([W], [], 'float64');
    expect(m.lastConverged).to.equal(true);
    expect(m.lastDiagnostics.belowLowerBound).to.deep.equal([0]);
    expect(m.lastIterations).to.be.greaterThan(BatchedPolarOrthogonalization.schedule(1e-5).length + 3);
    expect(worst.residual).to.be.at.most(1e-12);
    expect(worst.dist).to.be.at.most(1e-6); // the polar factor's condition number is 1/σmin
  });

  it('the input is unchanged, and scaling the input does not change the factor', function () {
    const W = SPECTRA.gaussian(12, 8, rng(3));
    const x = fromMats([W], [], 'float64');
    const before = Array.from(x.toTypedArray());
    const m = new BatchedPolarOrthogonalization([12, 8]);
    const a = m.forwardSync(x).toTypedArray();
    expect(Array.from(x.toTypedArray())).to.deep.equal(before);
    const b = m.forwardSync(fromMats([M.scale(W, 1e6)], [], 'float64')).toTypedArray();
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).to.be.at.most(1e-12);
  });
});

describe('BatchedPolarOrthogonalization: stalled input', function () {
  // Rank 12 of 16: four zero singular values.
  const rankDeficient = (g) =>
    withSpectrum(24, 16, Array.from({ length: 16 }, (_, i) => (i < 12 ? 1 - i / 24 : 0)), g);

  it('float64 rank-deficient: ERR_ORTHO_RANK_DEFICIENT by default, naming the matrix and tol', async function () {
    const x = fromMats([SPECTRA.gaussian(24, 16, rng(1)), rankDeficient(rng(2))], [2], 'float64');
    const m = new BatchedPolarOrthogonalization(x.shape);
    const e = await expectCode(() => m.forwardSync(x), ErrorCodes.RANK_DEFICIENT, Error);
    expect(e.message).to.match(/matrix 1 at/).and.to.match(/tol 1e-13/);
    await expectCode(() => m.forward(x), ErrorCodes.RANK_DEFICIENT, Error);
    expect(m.lastDiagnostics).to.equal(null); // nothing changes on error
  });

  it("float64 rank-deficient with onStall 'flag': the result, flagged, the good matrix converged", function () {
    const g = rng(2);
    const list = [SPECTRA.gaussian(24, 16, rng(1)), rankDeficient(g)];
    const x = fromMats(list, [2], 'float64');
    const m = new BatchedPolarOrthogonalization(x.shape, { onStall: 'flag' });
    const y = mats(m.forwardSync(x));
    const d = m.lastDiagnostics;
    expect(d.converged).to.equal(false);
    expect(m.lastConverged).to.equal(false);
    expect(d.stalled).to.deep.equal([1]);
    expect(d.belowLowerBound).to.include(1);
    expect(d.residuals[0]).to.be.at.most(1e-13);
    expect(d.residuals[1]).to.be.greaterThan(0.1); // the partial isometry: four zero directions of 16
    expect(quality(y[0], ref.polarSvd(list[0])).dist).to.be.at.most(1e-9);
  });

  it('float32 rank-deficient: never returned as converged without a flag', function () {
    const x = fromMats([rankDeficient(rng(4))], [], 'float32');
    const strict = new BatchedPolarOrthogonalization(x.shape);
    let threw = null;
    try {
      strict.forwardSync(x);
    } catch (e) {
      threw = e;
    }
    if (threw) {
      expect(threw.code).to.equal(ErrorCodes.RANK_DEFICIENT);
    } else {
      // Rounding grew the null directions into an orthonormal completion:
      // converged, and listed as below the schedule's range.
      expect(strict.lastConverged).to.equal(true);
      expect(strict.lastDiagnostics.belowLowerBound).to.deep.equal([0]);
    }
    const flag = new BatchedPolarOrthogonalization(x.shape, { onStall: 'flag' });
    flag.forwardSync(x);
    const d = flag.lastDiagnostics;
    expect(d.stalled.length > 0 || d.belowLowerBound.length > 0, JSON.stringify(d)).to.equal(true);
    expect(d.converged).to.equal(d.stalled.length === 0);
  });

  it('a zero matrix stalls (float32 and float64)', async function () {
    for (const dtype of ['float32', 'float64']) {
      const x = Tensor.zeros([6, 4], { dtype, device: DEVICE });
      await expectCode(() => new BatchedPolarOrthogonalization([6, 4]).forwardSync(x), ErrorCodes.RANK_DEFICIENT);
    }
  });
});

describe('BatchedPolarOrthogonalization: the fused per-matrix forward (CPU)', function () {
  // Every shape here is in the fused path's range (min(m, n) in [8, 64],
  // max(m, n) <= 256); [3, 96, 24] also runs its X M products on Eigen in
  // the plain sequence (past 64 rows), [3, 24, 40] is wide. Each batch mixes
  // conditioning, so that its matrices reach tol at different checks and
  // the early ones run on to the batch's last check, and holds a
  // rank-deficient matrix (index 1), which stalls (or, in float32, may grow
  // an orthonormal completion from rounding and be flagged below lowerBound).
  const fixture = fileURLToPath(new URL('./fixtures/polar-forward.mjs', import.meta.url));
  const deficient = (r, c, g) => {
    const k = Math.min(r, c);
    return withSpectrum(r, c, Array.from({ length: k }, (_, i) => (i < k - 4 ? 1 - i / (2 * k) : 0)), g);
  };

  // The plain sequence's forward of the same values, in a child with the
  // fused kernels off.
  function plainForward(x, options) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'polar-fused-'));
    try {
      const input = path.join(dir, 'x.bin');
      fs.writeFileSync(input, Buffer.from(Float64Array.from(x.toTypedArray()).buffer));
      const job = path.join(dir, 'job.json');
      fs.writeFileSync(job, JSON.stringify({ shape: x.shape, dtype: x.dtype, options, input }));
      const r = spawnSync(process.execPath, [fixture, job], { encoding: 'utf8', env: { ...process.env, ORTHO_FUSED: '0' } });
      if (r.status !== 0) throw new Error(`fixture failed: ${r.stderr}`);
      const out = JSON.parse(r.stdout);
      expect(out.detail).to.match(/fused kernels off \(ORTHO_FUSED=0\)/);
      return out;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  const cases = [
    ['square [6, 32, 32]', [6], 32, 32],
    ['tall [3, 96, 24]', [3], 96, 24],
    ['wide [3, 24, 40]', [3], 24, 40],
    ['smallest [4, 8, 8]', [4], 8, 8],
  ];
  for (const dtype of ['float32', 'float64'])
    for (const [name, batch, r, c] of cases)
      it(`${dtype} ${name}: the SVD polar factor, and the plain sequence's iterations, stalls and flags`, function () {
        if (DEVICE !== 'cpu') this.skip(); // the CPU's fused path
        const g = rng(r * 100 + c + dtype.length);
        const kappa = dtype === 'float64' ? 1e6 : 1e3;
        const makers = [SPECTRA.gaussian, deficient, SPECTRA.logUniform(kappa), SPECTRA['power law σᵢ = 1/i'], SPECTRA.logUniform(kappa / 10), SPECTRA.gaussian];
        const n = batch.reduce((a, b) => a * b, 1);
        const list = Array.from({ length: n }, (_, i) => makers[i](r, c, g));
        const options = { onStall: 'flag' };
        const { m, y } = checkAgainstSvd(list, batch, dtype, options);
        const d = m.lastDiagnostics;
        const inputs = mats(fromMats(list, batch, dtype)); // as rounded to dtype
        // The rank-deficient matrix never passes as a unique, converged polar factor.
        expect([...d.stalled, ...d.belowLowerBound], JSON.stringify(d)).to.include(1);
        if (dtype === 'float64') expect(Array.from(d.stalled)).to.deep.equal([1]);
        else expect(Array.from(d.stalled)).to.satisfy((s) => s.length === 0 || (s.length === 1 && s[0] === 1));
        // Every other matrix: within the limits against the SVD polar factor.
        mats(y).forEach((Q, b) => {
          if (b === 1) return;
          const q = quality(Q, ref.polarSvd(inputs[b]));
          expect(q.residual, `matrix ${b} residual`).to.be.at.most(LIMITS[dtype].residual);
          expect(q.dist, `matrix ${b} distance`).to.be.at.most(LIMITS[dtype].dist);
          expect(d.residuals[b], `matrix ${b} diagnostics`).to.be.at.most(d.tol);
        });
        // The same stop as the plain sequence: iterations, stalled and
        // flagged matrices alike; the other results equal up to rounding
        // (amplified by up to kappa).
        const plain = plainForward(fromMats(list, batch, dtype), options);
        const pd = plain.diagnostics;
        expect(d.iterations).to.equal(pd.iterations);
        expect(d.converged).to.equal(pd.converged);
        expect(Array.from(d.stalled)).to.deep.equal(pd.stalled);
        expect(Array.from(d.belowLowerBound)).to.deep.equal(pd.belowLowerBound);
        const fused = y.toTypedArray();
        const per = r * c;
        let worst = 0;
        for (let b = 0; b < n; b++) {
          if (b === 1) continue;
          expect(pd.residuals[b]).to.be.at.most(pd.tol);
          for (let i = b * per; i < (b + 1) * per; i++) worst = Math.max(worst, Math.abs(fused[i] - plain.output[i]));
        }
        expect(worst).to.be.at.most(dtype === 'float64' ? 1e-9 : 1e-4);
      });
});

describe('BatchedPolarOrthogonalization#backward()', function () {
  // Central differences of the SVD polar factor (float64, ml-matrix),
  // against <backward(G), D> for random G and D.
  function fdAgainstSvd(list, batchShape, seed) {
    const g = rng(seed);
    const x = fromMats(list, batchShape, 'float64');
    const m = new BatchedPolarOrthogonalization(x.shape, { requiresGrad: true });
    m.forwardSync(x);
    const G = list.map((W) => M.randn(W.r, W.c, g));
    const grad = mats(m.backwardSync(fromMats(G, batchShape, 'float64')));
    // Small enough for κ = 1e3 (the truncation error grows like (h/σmin)²).
    const h = 1e-7;
    let worst = 0;
    for (let dir = 0; dir < 3; dir++) {
      let num = 0, ana = 0;
      list.forEach((W, b) => {
        const D = M.randn(W.r, W.c, g);
        const fp = ref.polarSvd(M.add(W, D, 1, h)), fm = ref.polarSvd(M.add(W, D, 1, -h));
        for (let i = 0; i < W.a.length; i++) {
          num += (G[b].a[i] * (fp.a[i] - fm.a[i])) / (2 * h);
          ana += grad[b].a[i] * D.a[i];
        }
      });
      worst = Math.max(worst, Math.abs(num - ana) / Math.max(Math.abs(num), 1e-8));
    }
    return worst;
  }

  for (const [name, r, c] of [
    ['tall', 9, 5],
    ['square', 7, 7],
    ['wide', 4, 8],
  ])
    it(`${name} [${r},${c}]: the VJP of the polar factor (central differences of an SVD polar, float64)`, function () {
      const e = fdAgainstSvd([SPECTRA.gaussian(r, c, rng(r * 10 + c))], [], 11);
      expect(e).to.be.at.most(1e-6);
    });

  it('batched [2, 2, 6, 4] with mixed conditioning', function () {
    const g = rng(21);
    const list = [
      SPECTRA.gaussian(6, 4, g),
      SPECTRA.logUniform(1e3)(6, 4, g),
      SPECTRA['power law σᵢ = 1/i'](6, 4, g),
      SPECTRA.gaussian(6, 4, g),
    ];
    expect(fdAgainstSvd(list, [2, 2], 12)).to.be.at.most(1e-6);
  });

  it('float32 agrees with float64 to 1e-3 relative', function () {
    const W = SPECTRA.gaussian(10, 6, rng(8));
    const G = M.randn(10, 6, rng(9));
    const out = {};
    for (const dtype of ['float32', 'float64']) {
      const m = new BatchedPolarOrthogonalization([10, 6], { requiresGrad: true });
      m.forwardSync(fromMats([W], [], dtype));
      out[dtype] = m.backwardSync(fromMats([G], [], dtype)).toTypedArray();
    }
    let num = 0, den = 0;
    for (let i = 0; i < out.float64.length; i++) {
      num = Math.max(num, Math.abs(out.float32[i] - out.float64[i]));
      den = Math.max(den, Math.abs(out.float64[i]));
    }
    expect(num / den).to.be.at.most(1e-3);
  });

  it('keeps the input and the output only (flat in the iterations)', function () {
    const m = new BatchedPolarOrthogonalization([3, 16, 8], { requiresGrad: true });
    m.forwardSync(Tensor.randn([3, 16, 8], { dtype: 'float64', device: DEVICE, seed: 1 }));
    expect(m.contextBytes).to.equal(2 * 3 * 16 * 8 * 8);
  });
});

describe('POLAR_ORTHO_PARAMS / PRESETS.polar', function () {
  it('is the identity then the polar module, and equals the module alone', function () {
    expect(PRESETS.polar).to.equal(POLAR_ORTHO_PARAMS);
    const x = Tensor.randn([2, 12, 9], { dtype: 'float64', device: DEVICE, seed: 4 });
    const built = POLAR_ORTHO_PARAMS.build([2, 12, 9]);
    expect(built.spectralNormalizer).to.be.instanceOf(ortho.BatchedIdentity);
    expect(built.orthogonalizer).to.be.instanceOf(BatchedPolarOrthogonalization);
    const a = built.forwardSync(x).toTypedArray();
    const b = new BatchedPolarOrthogonalization([2, 12, 9]).forwardSync(x).toTypedArray();
    expect(Array.from(a)).to.deep.equal(Array.from(b));
    expect(built.orthogonalizer.lastConverged).to.equal(true);
  });

  it('takes classParam overrides and requiresGrad through build()', function () {
    const params = new ortho.OrthoParams({
      spectralNormalizer: ortho.BatchedIdentity,
      orthogonalizer: classParam(BatchedPolarOrthogonalization, { tol: 1e-4, lowerBound: 1e-3 }),
    });
    const built = params.build([8, 8], { requiresGrad: true });
    expect(built.orthogonalizer.tol).to.equal(1e-4);
    expect(built.orthogonalizer.lowerBound).to.equal(1e-3);
    const x = Tensor.randn([8, 8], { dtype: 'float64', device: DEVICE, seed: 2 });
    built.forwardSync(x);
    expect(built.orthogonalizer.lastResidual).to.be.at.most(1e-4);
    const g = built.backwardSync(Tensor.randn([8, 8], { dtype: 'float64', device: DEVICE, seed: 3 }));
    expect(g.shape).to.deep.equal([8, 8]);
  });
});

describe('BatchedPolarOrthogonalization: bad input', function () {
  it('options: ERR_ORTHO_INVALID_ARG with TypeError or RangeError', async function () {
    const C = BatchedPolarOrthogonalization;
    await expectCode(() => new C([4, 4], { tol: 0 }), ErrorCodes.INVALID_ARG, RangeError);
    await expectCode(() => new C([4, 4], { tol: 'x' }), ErrorCodes.INVALID_ARG, TypeError);
    await expectCode(() => new C([4, 4], { maxIters: 0 }), ErrorCodes.INVALID_ARG, RangeError);
    await expectCode(() => new C([4, 4], { maxIters: 1.5 }), ErrorCodes.INVALID_ARG, TypeError);
    await expectCode(() => new C([4, 4], { lowerBound: 1 }), ErrorCodes.INVALID_ARG, RangeError);
    await expectCode(() => new C([4, 4], { onStall: 'ignore' }), ErrorCodes.INVALID_ARG, TypeError);
    await expectCode(() => new C([4, 4], { niters: 3 }), ErrorCodes.INVALID_ARG);
    await expectCode(() => new C([4]), ErrorCodes.SHAPE);
  });

  it('tensors: shape, non-finite values, backward without requiresGrad', async function () {
    const m = new BatchedPolarOrthogonalization([4, 3]);
    await expectCode(() => m.forwardSync(Tensor.zeros([3, 4], { device: DEVICE })), ErrorCodes.SHAPE, RangeError);
    const bad = Tensor.from(Float64Array.from({ length: 12 }, (_, i) => (i === 5 ? NaN : i)), [4, 3], { device: DEVICE });
    await expectCode(() => m.forwardSync(bad), ErrorCodes.NON_FINITE, RangeError);
    await expectCode(() => m.backwardSync(Tensor.zeros([4, 3], { device: DEVICE })), ErrorCodes.NO_GRAD);
    const g = new BatchedPolarOrthogonalization([4, 3], { requiresGrad: true });
    await expectCode(() => g.backwardSync(Tensor.zeros([4, 3], { device: DEVICE })), ErrorCodes.NO_GRAD);
    g.forwardSync(Tensor.randn([4, 3], { device: DEVICE, seed: 1 }));
    await expectCode(() => g.backwardSync(Tensor.zeros([3, 4], { device: DEVICE })), ErrorCodes.SHAPE);
    await expectCode(
      () => g.backwardSync(Tensor.zeros([4, 3], { dtype: 'float64', device: DEVICE })),
      ErrorCodes.DTYPE,
      TypeError,
    );
  });
});
