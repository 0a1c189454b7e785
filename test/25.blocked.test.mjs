// The CPU backend's larger-size paths, against the float64 reference and
// finite differences. The other suites use matrices of at most 7 x 7, which
// run on the register kernels of native/cpu/small_kernels.h; here the
// dimensions pass the small-kernel limit (64) and reach Eigen's blocked
// products, the lower-to-upper mirror by register tiles (sizes that are not
// multiples of the tile), the blocked QR (48-column panels) and Cholesky,
// lone matrices whose products, solves, factorizations and QR updates are
// split over the threads, and batches split into chunks the threads claim
// in turn. Mid sizes (33 to 64, depth up to 256) check the small kernels'
// edges. On a GPU device the same checks run there, with CPU parity.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import {
  DEVICE, forwardOn, Tensor, expect, expectClose, expectCpuParity, mats, moduleFdError, ortho, ref, shapeName, wellConditionedTensor,
} from './00.setup.mjs';

const {
  BatchedBjorckOrthogonalization, BatchedCholeskyOrthogonalization, BatchedExponentialOrthogonalization,
  BatchedQROrthogonalization, L2Normalize, PRESETS,
} = ortho;

const TOL = { float64: 1e-10, float32: 1e-4 };

describe('larger matrices: blocked, tiled and threaded paths', function () {
  this.timeout(60000);

  describe('BatchedBjorckOrthogonalization', function () {
    // lone tall (products and Gram split by rows), batch, wide, the small
    // kernels at their limits (33 x 40, 64 x 64) and the fused small step
    // with depth 200 (48 x 48 Gram of a 200 x 48 matrix).
    const shapes = [[1, 260, 200], [3, 130, 130], [2, 97, 160], [5, 40, 33], [3, 64, 64], [2, 200, 48]];
    for (const shape of shapes)
      it(`matches the reference (beta 0.5, 12 iterations) on ${shapeName(shape)} float64`, function () {
        const x = wellConditionedTensor(shape, { seed: 41 });
        const y = expectCpuParity(forwardOn(BatchedBjorckOrthogonalization, shape, {}, x), 'float64', 'bjorck');
        expectClose(y, mats(x).flatMap((w) => Array.from(ref.bjorck(w, 0.5, 12).a)), TOL.float64, 'bjorck');
      });

    it('float32 agrees with the float64 reference on [3, 130, 130]', function () {
      const shape = [3, 130, 130];
      const x = wellConditionedTensor(shape, { seed: 42 });
      const x32 = wellConditionedTensor(shape, { seed: 42, dtype: 'float32' });
      const y = new BatchedBjorckOrthogonalization(shape).forwardSync(x32);
      expectClose(y.toTypedArray(), mats(x).flatMap((w) => Array.from(ref.bjorck(w, 0.5, 12).a)), TOL.float32, 'bjorck f32');
    });
  });

  describe('BatchedCholeskyOrthogonalization', function () {
    // [1, 400, 420]: n^3/3 above the threshold where one factorization is
    // split over the threads (blocked right-looking code), solve split by
    // columns; [3, 130, 150]: Eigen's blocked factorization per matrix.
    for (const stable of [false, true])
      for (const shape of [[1, 400, 420], [3, 130, 150], [2, 90, 90]])
        it(`matches the reference on ${shapeName(shape)} float64${stable ? ' (stable)' : ''}`, function () {
          const x = wellConditionedTensor(shape, { seed: 43 });
          const y = expectCpuParity(forwardOn(BatchedCholeskyOrthogonalization, shape, { stable }, x), 'float64', 'cholesky');
          expectClose(y, mats(x).flatMap((X) => Array.from(ref.cholesky(X).a)), TOL.float64, 'cholesky');
        });
  });

  describe('BatchedQROrthogonalization', function () {
    // [1, 260, 200]: blocked panels with the trailing updates split over
    // the threads; [3, 150, 97]: blocked per matrix; [2, 70, 130]: wide;
    // [4, 300, 40]: the unblocked small-matrix code at its tallest.
    for (const shape of [[1, 260, 200], [3, 150, 97], [2, 70, 130], [4, 300, 40]])
      it(`matches the sign-fixed reference QR on ${shapeName(shape)} float64`, function () {
        const x = wellConditionedTensor(shape, { seed: 44 });
        const y = expectCpuParity(forwardOn(BatchedQROrthogonalization, shape, {}, x), 'float64', 'qr');
        expectClose(y, mats(x).flatMap((w) => Array.from(ref.qr(w).a)), TOL.float64, 'qr');
      });
  });

  describe('BatchedExponentialOrthogonalization', function () {
    for (const shape of [[2, 130, 97], [1, 150, 150]])
      it(`matches the 12-term series on ${shapeName(shape)} float64`, function () {
        const x = wellConditionedTensor(shape, { seed: 45 });
        const y = expectCpuParity(forwardOn(BatchedExponentialOrthogonalization, shape, { niters: 12 }, x), 'float64', 'exp');
        expectClose(y, mats(x).flatMap((w) => Array.from(ref.exponential(w, 12).a)), TOL.float64, 'exp');
      });
  });

  describe('backward (finite differences, float64)', function () {
    const cases = {
      'Björck (3 iterations)': [(s, o) => new BatchedBjorckOrthogonalization(s, { niters: 3, ...o }), [[1, 130, 97], [3, 70, 90]]],
      Cholesky: [(s, o) => new BatchedCholeskyOrthogonalization(s, o), [[1, 90, 130], [3, 80, 80]]],
      'Cholesky (stable)': [(s, o) => new BatchedCholeskyOrthogonalization(s, { stable: true, ...o }), [[1, 90, 130]]],
      QR: [(s, o) => new BatchedQROrthogonalization(s, o), [[1, 130, 97], [2, 70, 100]]],
      'exponential (6 terms)': [(s, o) => new BatchedExponentialOrthogonalization(s, { niters: 6, ...o }), [[1, 100, 80]]],
    };
    for (const [name, [make, shapes]] of Object.entries(cases))
      for (const shape of shapes)
        it(`${name} on ${shapeName(shape)}`, function () {
          const x = wellConditionedTensor(shape, { seed: 46 });
          expect(moduleFdError((o) => make(shape, o), x, 2)).to.be.below(1e-6);
        });
  });

  describe('BatchedPowerIteration on lone large matrices (batch below the thread count: the unfused path)', function () {
    // tall, wide (no batch dims), an odd row count, float32; and the warm
    // start from the state the first call left
    const { BatchedPowerIteration } = ortho;
    for (const [shape, dtype] of [[[1, 300, 260], 'float64'], [[70, 1000], 'float64'], [[1, 1013, 97], 'float64'], [[1, 300, 260], 'float32']])
      it(`matches the reference from its initial state, output and state, on ${shapeName(shape)} ${dtype}`, function () {
        const x = Tensor.randn(shape, { seed: 49, dtype, device: DEVICE });
        const probe = new BatchedPowerIteration(shape, { seed: 6, powerItNiter: 0 });
        probe.forwardSync(x);
        const u0 = mats(probe.u), v0 = mats(probe.v);
        const m = new BatchedPowerIteration(shape, { seed: 6, eps: 1e-6, powerItNiter: 4 });
        const y = m.forwardSync(x).toTypedArray();
        const want = mats(x).map((X, b) => ref.powerIteration(X, u0[b].a, v0[b].a, 4, 1e-6));
        expectClose(y, want.flatMap((r) => Array.from(r.y.a)), TOL[dtype], 'output');
        expectClose(m.u.toTypedArray(), want.flatMap((r) => Array.from(r.u)), TOL[dtype] * 10, 'u');
        expectClose(m.v.toTypedArray(), want.flatMap((r) => Array.from(r.v)), TOL[dtype] * 10, 'v');
        // warm start: a second call continues from the state the first left
        const y2 = m.forwardSync(x).toTypedArray();
        const want2 = mats(x).map((X, b) => ref.powerIteration(X, want[b].u, want[b].v, 4, 1e-6));
        expectClose(y2, want2.flatMap((r) => Array.from(r.y.a)), TOL[dtype], 'warm-started output');
      });
  });

  describe('L2Normalize over long groups (chunked parallel reduction)', function () {
    // 2 x 300 x 500: one group of 300 000 elements (all dims), or two of
    // 150 000 (dim [-2, -1]): more than two chunks of 65 536 each.
    for (const dim of [undefined, [-2, -1]])
      it(`matches the reference, forward and finite differences, dim ${JSON.stringify(dim ?? 'all')}`, function () {
        const shape = [2, 300, 500];
        const x = Tensor.randn(shape, { seed: 48, dtype: 'float64', device: DEVICE });
        const opts = dim === undefined ? {} : { dim };
        const y = new L2Normalize(opts).forwardSync(x).toTypedArray();
        const xs = x.toTypedArray();
        const groups = dim === undefined ? [xs] : [xs.subarray(0, 150000), xs.subarray(150000)];
        expectClose(y, groups.flatMap((gr) => Array.from(ref.l2n(Array.from(gr)))), 1e-13, 'l2n');
        expect(moduleFdError((o) => new L2Normalize({ ...opts, ...o }), x, 2)).to.be.below(1e-6);
      });
    // dim 1 of 2 x 300 x 500: 1,000 groups strided across the rows (a
    // layout whose groups are not contiguous runs), scaled in parallel.
    it('matches the reference, forward and finite differences, dim 1 (strided groups)', function () {
      const [B, R, C] = [2, 300, 500];
      const x = Tensor.randn([B, R, C], { seed: 49, dtype: 'float64', device: DEVICE });
      const y = new L2Normalize({ dim: 1 }).forwardSync(x).toTypedArray();
      const xs = x.toTypedArray();
      const want = new Float64Array(xs.length);
      for (let b = 0; b < B; ++b)
        for (let c = 0; c < C; ++c) {
          const col = Array.from({ length: R }, (_, r) => xs[(b * R + r) * C + c]);
          ref.l2n(col).forEach((v, r) => { want[(b * R + r) * C + c] = v; });
        }
      expectClose(y, want, 1e-13, 'l2n');
      expect(moduleFdError((o) => new L2Normalize({ dim: 1, ...o }), x, 2)).to.be.below(1e-6);
    });
    // dims [0, 2] of 2 x 300 x 500: 300 groups, each two runs of 500 that
    // lie 150,000 elements apart (the innermost dim reduced, the middle kept).
    it('matches the reference, forward and finite differences, dims [0, 2] (groups split across the batch)', function () {
      const [B, R, C] = [2, 300, 500];
      const x = Tensor.randn([B, R, C], { seed: 50, dtype: 'float64', device: DEVICE });
      const y = new L2Normalize({ dim: [0, 2] }).forwardSync(x).toTypedArray();
      const xs = x.toTypedArray();
      const want = new Float64Array(xs.length);
      for (let r = 0; r < R; ++r) {
        const at = (b, c) => (b * R + r) * C + c;
        const grp = [];
        for (let b = 0; b < B; ++b) for (let c = 0; c < C; ++c) grp.push(xs[at(b, c)]);
        ref.l2n(grp).forEach((v, i) => { want[at(Math.floor(i / C), i % C)] = v; });
      }
      expectClose(y, want, 1e-13, 'l2n');
      expect(moduleFdError((o) => new L2Normalize({ dim: [0, 2], ...o }), x, 2)).to.be.below(1e-6);
    });
    // The strided reductions sum each group in a fixed order: one thread
    // and all of them give the same bits (float64, where the order of a sum shows in the last bits).
    it('strided layouts give the same bits on one thread as on all of them', function () {
      if (DEVICE !== 'cpu') this.skip();
      const script = `
        import * as o from ${JSON.stringify(new URL('../index.mjs', import.meta.url).href)};
        const x = o.Tensor.randn([2, 300, 500], { seed: 51, dtype: 'float64' });
        const m = (dim) => new o.L2Normalize({ dim, requiresGrad: true });
        const out = [];
        for (const dim of [1, [0, 2]]) {
          const l = m(dim);
          const y = l.forwardSync(x);
          out.push(Buffer.from(y.toTypedArray().buffer).toString('base64'));
          out.push(Buffer.from(l.backwardSync(o.Tensor.randn([2, 300, 500], { seed: 52, dtype: 'float64' })).toTypedArray().buffer).toString('base64'));
        }
        process.stdout.write(JSON.stringify(out));`;
      const run = (threads) => {
        const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
          env: { ...process.env, ORTHO_NUM_THREADS: String(threads) }, encoding: 'utf8', maxBuffer: 1 << 26,
        });
        expect(r.status, r.stderr).to.equal(0);
        return JSON.parse(r.stdout);
      };
      const one = run(1), all = run(Math.max(2, os.availableParallelism()));
      one.forEach((v, i) => expect(v === all[i], `output ${i} (${['dim 1 forward', 'dim 1 backward', 'dims [0, 2] forward', 'dims [0, 2] backward'][i]})`).to.equal(true));
    });
  });

  it('forward() and forwardSync() are bit-identical with the work split over the threads', async function () {
    for (const [preset, shape] of [['default', [1, 260, 200]], ['qr', [1, 260, 200]], ['cholesky', [1, 400, 420]], ['default', [64, 40, 40]]]) {
      const x = Tensor.randn(shape, { seed: 47, dtype: 'float32', device: DEVICE });
      const a = PRESETS[preset].build(shape, { seed: 3 });
      const b = PRESETS[preset].build(shape, { seed: 3 });
      const sync = a.forwardSync(x).toTypedArray();
      const async = (await b.forward(x)).toTypedArray();
      expect(Buffer.compare(Buffer.from(sync.buffer), Buffer.from(async.buffer)), `${preset} ${shapeName(shape)}`).to.equal(0);
    }
  });
});
