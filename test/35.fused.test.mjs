// The sizes where the backends run a whole reparametrization of one small
// matrix at once. Björck: every step of a matrix (the fused forward that
// also writes out the recorded steps' inputs, and the fused backward over
// all recorded steps), min(m, n) from 8 to 64 on the CPU's small-matrix
// kernels and the GPU's shared-memory kernels (with a fallback to the
// per-step path where a matrix does not fit). Cholesky: the GPU's
// one-warp-per-matrix kernel (m <= 32), with every lane busy and more
// columns than lanes.
// Oracles: a float64 reference VJP written here from the expanded Björck
// step (three products, a different association from the library's),
// central finite differences, and the float64 reference forwards.
import {
  DEVICE, FUSED, M, Tensor, expect, expectClose, fdCheck, fixedChain, mats, moduleFdError, ortho, ref, shapeName, wellConditionedTensor,
} from './00.setup.mjs';

const { BatchedBjorckOrthogonalization, BatchedCholeskyOrthogonalization, DEFAULT_ORTHO_PARAMS } = ortho;

// One step w' = (1 + beta) w - beta w w^T w (tall; wide: w w^T w as well)
// has the VJP  dw = (1 + beta) G - beta (G w^T w + w G^T w + w w^T G).
function refVjp(W, G, beta, niters, passThrough = false) {
  const ws = [];
  let w = W;
  for (let i = 0; i < niters; i++) {
    ws.push(w);
    w = ref.bjorck(w, beta, 1);
  }
  if (passThrough) {
    // The last step is the recorded one; the first niters - 1 pass straight through.
    ws.splice(0, ws.length - 1);
  }
  let g = G;
  for (let i = ws.length; i-- > 0;) {
    const v = ws[i];
    const a = M.mul(g, M.mul(M.t(v), v));
    const b = M.mul(v, M.mul(M.t(g), v));
    const c = M.mul(v, M.mul(M.t(v), g));
    g = M.add(M.scale(g, 1 + beta), M.add(M.add(a, b), c), 1, -beta);
  }
  return g;
}

// [3, 40, 24] tall, [2, 16, 48] wide, [2, 32, 32] square (the GPU kernels
// take these whole); [1, 64, 64] float64 and [2, 200, 48] exceed the GPU's
// shared memory (per-step path there, fused on the CPU).
const SHAPES = [[3, 40, 24], [2, 16, 48], [2, 32, 32], [1, 64, 64], [2, 200, 48]];

describe(`Björck at small-matrix sizes (fused paths) on ${DEVICE}`, function () {
  for (const shape of SHAPES)
    for (const passThrough of [false, true])
      it(`backward = reference VJP and finite differences on ${shapeName(shape)}${passThrough ? ' (passThrough)' : ''}`, function () {
        const niters = 5;
        const x = wellConditionedTensor(shape, { seed: 51 });
        const m = new BatchedBjorckOrthogonalization(shape, { niters, passThrough, requiresGrad: true });
        const y = m.forwardSync(x);
        // The recorded forward is the unrecorded one.
        expectClose(y.toTypedArray(), mats(x).flatMap((w) => Array.from(ref.bjorck(w, 0.5, niters + (passThrough ? 1 : 0)).a)), 1e-12, 'forward');
        const G = Tensor.randn(shape, { seed: 52, dtype: 'float64', device: DEVICE });
        const grad = m.backwardSync(G);
        const steps = niters + (passThrough ? 1 : 0);
        const want = mats(x).flatMap((w, b) => {
          const gb = mats(G)[b];
          // pass-through: the VJP of the last step, at that step's input
          return Array.from(refVjp(w, gb, 0.5, steps, passThrough).a);
        });
        expectClose(grad.toTypedArray(), want, 1e-11, 'VJP');
        if (!passThrough)
          expect(moduleFdError((o) => new BatchedBjorckOrthogonalization(shape, { niters, ...o }), x, 2)).to.be.below(1e-6);
      });

  it('more steps than one GPU launch carries (40 iterations, recorded and pass-through) match the reference VJP', function () {
    for (const shape of [[2, 24, 20], [2, 12, 28]]) {
      const x = wellConditionedTensor(shape, { seed: 53 });
      const m = new BatchedBjorckOrthogonalization(shape, { niters: 40, beta: 0.4, requiresGrad: true });
      const y = m.forwardSync(x);
      expectClose(y.toTypedArray(), mats(x).flatMap((w) => Array.from(ref.bjorck(w, 0.4, 40).a)), 1e-12, 'forward');
      // each recorded step keeps its input, and its folded Gram (k x k) but
      // where the CPU's small-matrix kernels recompute it instead
      const gram = DEVICE === 'cpu' && FUSED ? 0 : shape[0] * Math.min(shape[1], shape[2]) ** 2;
      expect(m.contextBytes).to.equal(40 * (x.size + gram) * 8);
      const G = Tensor.randn(shape, { seed: 54, dtype: 'float64', device: DEVICE });
      const want = mats(x).flatMap((w, b) => Array.from(refVjp(w, mats(G)[b], 0.4, 40).a));
      expectClose(m.backwardSync(G).toTypedArray(), want, 1e-10, `VJP ${shapeName(shape)}`);
      // pass-through: only the 41st step's input is saved, in the second launch
      const pt = new BatchedBjorckOrthogonalization(shape, { niters: 40, beta: 0.4, passThrough: true, requiresGrad: true });
      expectClose(pt.forwardSync(x).toTypedArray(), mats(x).flatMap((w) => Array.from(ref.bjorck(w, 0.4, 41).a)), 1e-12, 'pass-through forward');
      expect(pt.contextBytes).to.equal((x.size + gram) * 8);
      const wantPt = mats(x).flatMap((w, b) => Array.from(refVjp(w, mats(G)[b], 0.4, 41, true).a));
      expectClose(pt.backwardSync(G).toTypedArray(), wantPt, 1e-10, `pass-through VJP ${shapeName(shape)}`);
    }
  });

  it('past the small-matrix sizes every backend keeps the Gram of each recorded step, and the per-step VJP matches the reference', function () {
    // min(m, n) = 72 > 64: the per-step path on every backend, whose backward
    // reads the kept M' instead of recomputing it.
    for (const shape of [[2, 80, 72], [1, 72, 90]]) {
      const x = wellConditionedTensor(shape, { seed: 57 });
      const m = new BatchedBjorckOrthogonalization(shape, { niters: 3, beta: 0.5, requiresGrad: true });
      m.forwardSync(x);
      const gram = shape[0] * Math.min(shape[1], shape[2]) ** 2;
      expect(m.contextBytes, shapeName(shape)).to.equal(3 * (x.size + gram) * 8);
      const G = Tensor.randn(shape, { seed: 58, dtype: 'float64', device: DEVICE });
      const want = mats(x).flatMap((w, b) => Array.from(refVjp(w, mats(G)[b], 0.5, 3).a));
      expectClose(m.backwardSync(G).toTypedArray(), want, 1e-10, `VJP ${shapeName(shape)}`);
      const pt = new BatchedBjorckOrthogonalization(shape, { niters: 3, beta: 0.5, passThrough: true, requiresGrad: true });
      pt.forwardSync(x);
      expect(pt.contextBytes, `pass-through ${shapeName(shape)}`).to.equal((x.size + gram) * 8);
      const wantPt = mats(x).flatMap((w, b) => Array.from(refVjp(w, mats(G)[b], 0.5, 4, true).a));
      expectClose(pt.backwardSync(G).toTypedArray(), wantPt, 1e-10, `pass-through VJP ${shapeName(shape)}`);
    }
  });

  it('float32 backward agrees with the float64 reference VJP (1e-4)', function () {
    for (const shape of [[3, 40, 24], [2, 16, 48], [4, 32, 32]]) {
      const x = wellConditionedTensor(shape, { seed: 55 });
      const x32 = wellConditionedTensor(shape, { seed: 55, dtype: 'float32' });
      const G = Tensor.randn(shape, { seed: 56, dtype: 'float64', device: DEVICE });
      const m = new BatchedBjorckOrthogonalization(shape, { requiresGrad: true });
      m.forwardSync(x32);
      const grad = m.backwardSync(Tensor.from(Float32Array.from(G.toTypedArray()), shape, { device: DEVICE }));
      const want = mats(x).flatMap((w, b) => Array.from(refVjp(w, mats(G)[b], 0.5, 12).a));
      expectClose(grad.toTypedArray(), want, 1e-4, shapeName(shape));
    }
  });

  it('the default preset trains through the fused paths: backward = finite differences on [8, 32, 32]', function () {
    const shape = [8, 32, 32];
    const x = wellConditionedTensor(shape, { seed: 57, lo: 0.5, hi: 2 });
    const m = DEFAULT_ORTHO_PARAMS.build(shape, { seed: 1, requiresGrad: true });
    m.forwardSync(x);
    const probe = fixedChain(DEFAULT_ORTHO_PARAMS, m, shape);
    const err = fdCheck({ x, f: (v) => probe.forwardSync(v), vjp: (v, g) => m.backwardSync(g), directions: 2 });
    expect(err).to.be.below(1e-6);
  });
});

describe(`Cholesky at small-matrix sizes (fused paths) on ${DEVICE}`, function () {
  // [3, 32, 48]: m = 32 (every lane of a warp a row), n > 32 (a lane
  // solves two columns); [9, 17, 40]: a batch that leaves a block's last
  // warps idle; [2, 32, 20]: tall (X X^T + 1e-5 I nearly singular, float64).
  for (const shape of [[3, 32, 48], [9, 17, 40], [2, 32, 20]])
    for (const stable of [false, true])
      it(`forward = reference, backward = finite differences on ${shapeName(shape)}${stable ? ' (stable)' : ''}`, function () {
        const x = wellConditionedTensor(shape, { seed: 58 });
        const m = new BatchedCholeskyOrthogonalization(shape, { stable, requiresGrad: true });
        const y = m.forwardSync(x);
        expectClose(y.toTypedArray(), mats(x).flatMap((w) => Array.from(ref.cholesky(w).a)), 1e-9, 'forward');
        expect(moduleFdError((o) => new BatchedCholeskyOrthogonalization(shape, { stable, ...o }), x, 2)).to.be.below(1e-6);
      });

  it('float32 agrees with the float64 reference (1e-4) on [64, 32, 48] and [5, 24, 24]', function () {
    for (const shape of [[64, 32, 48], [5, 24, 24]]) {
      const x = wellConditionedTensor(shape, { seed: 59 });
      const y = new BatchedCholeskyOrthogonalization(shape).forwardSync(wellConditionedTensor(shape, { seed: 59, dtype: 'float32' }));
      expectClose(y.toTypedArray(), mats(x).flatMap((w) => Array.from(ref.cholesky(w).a)), 1e-4, shapeName(shape));
    }
  });
});
