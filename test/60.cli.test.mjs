// The `orthogonium` command, run as a child process: orthogonalize then
// report round trips in every dtype, the weight rule, byte-identical copies
// of everything else, .npy files, every corrupt-file case, interruption by
// SIGINT and SIGTERM, failures mid-file, the input/output safety rules, exit
// codes and help. Inputs are built byte by byte from the formats'
// descriptions (60.cli-support.mjs) and outputs are checked with
// independent float64 arithmetic, not only with `orthogonium report`.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  bf16Bytes,
  cli,
  cliProcess,
  decode,
  f32Bytes,
  f64Bytes,
  gaussian,
  nearIdentity,
  npy,
  orthError,
  randomF16Bytes,
  readNpy,
  readSafetensors,
  safetensors,
  safetensorsRaw,
  sha256,
  tempDir,
} from './60.cli-support.mjs';

// Orthogonality that the 'test' preset reaches (orthogonium tests it at 1e-4),
// and what rounding the result to the storage dtype allows on top: an
// elementwise relative error u changes WᵀW − I by at most 2·u·‖W‖₂·‖W‖_F
// = 2·u·√k for an orthonormal W with k = min(m, n) columns (or rows).
const UNIT_ROUNDOFF = { F64: 2 ** -53, F32: 2 ** -24, F16: 2 ** -11, BF16: 2 ** -8 };
const tolerance = (dtype, m, n) => 1e-4 + 2 * UNIT_ROUNDOFF[dtype] * Math.sqrt(Math.min(m, n));

const encoders = { F32: f32Bytes, F64: f64Bytes, BF16: bf16Bytes };

/** A weight of `dtype`: near-identity for square shapes, Gaussian otherwise (both well-conditioned). */
function weightBytes(dtype, m, n, seed) {
  if (dtype === 'F16') return randomF16Bytes(m * n, seed);
  return encoders[dtype](m === n ? nearIdentity(m, n, seed) : gaussian(m * n, seed));
}

/** A multi-tensor model file: weights (linear, conv, square), a bias, a norm, integer and bool tensors. */
function modelTensors(dtype) {
  return [
    { name: 'embed.weight', dtype, shape: [40, 12], bytes: weightBytes(dtype, 40, 12, 1) },
    { name: 'layers.0.attn.weight', dtype, shape: [24, 24], bytes: weightBytes(dtype, 24, 24, 2) },
    { name: 'layers.0.attn.bias', dtype, shape: [24], bytes: encodersOr(dtype, 24, 3) },
    { name: 'layers.0.conv.weight', dtype, shape: [8, 3, 3, 3], bytes: weightBytes(dtype, 8, 27, 4) },
    { name: 'layers.0.mlp.weight', dtype, shape: [16, 48], bytes: weightBytes(dtype, 16, 48, 5) },
    { name: 'layers.0.norm.weight', dtype, shape: [1, 24], bytes: encodersOr(dtype, 24, 6) },
    { name: 'position_ids', dtype: 'I64', shape: [2, 6], bytes: Buffer.from(new BigInt64Array(12).map((_, i) => BigInt(i)).buffer) },
    { name: 'mask', dtype: 'BOOL', shape: [3, 3], bytes: Buffer.from([1, 0, 1, 0, 1, 0, 1, 0, 1]) },
  ];
}
function encodersOr(dtype, n, seed) {
  return dtype === 'F16' ? randomF16Bytes(n, seed) : encoders[dtype](gaussian(n, seed));
}

describe('orthogonium (command line)', function () {
  this.timeout(60000);
  let tmp;
  beforeEach(() => (tmp = tempDir()));
  afterEach(() => tmp.cleanup());

  const write = (name, bytes) => {
    const f = tmp.file(name);
    fs.writeFileSync(f, bytes);
    return f;
  };
  const listDir = () => fs.readdirSync(tmp.dir).sort();

  describe('orthogonalize then report: round trips', function () {
    for (const dtype of ['F32', 'F64', 'F16', 'BF16']) {
      it(`${dtype}: selected weights pass report --check, everything else is byte-identical`, function () {
        const tensors = modelTensors(dtype);
        const input = write('model.safetensors', safetensors(tensors, { format: 'pt', origin: 'test' }));
        const before = sha256(input);
        const output = tmp.file('out.safetensors');
        const r = cli(['orthogonalize', input, '-o', output, '--params', 'test', '--exclude', '^embed\\.', '--json']);
        expect(r.stderr).to.equal('');
        expect(r.status).to.equal(0);
        const summary = JSON.parse(r.stdout);
        const done = summary.tensors.filter((t) => t.action === 'orthogonalize').map((t) => t.name);
        expect(done).to.deep.equal(['layers.0.attn.weight', 'layers.0.conv.weight', 'layers.0.mlp.weight', 'layers.0.norm.weight']);
        expect(sha256(input)).to.equal(before);

        const out = readSafetensors(output);
        const inp = readSafetensors(input);
        expect(out.buf.length).to.equal(inp.buf.length);
        expect(Buffer.compare(out.headerBytes, inp.headerBytes), 'header (and __metadata__) kept byte for byte').to.equal(0);
        for (const t of tensors) {
          const same = Buffer.compare(out.tensor(t.name), inp.tensor(t.name)) === 0;
          if (!done.includes(t.name)) {
            expect(same, `${t.name} copied byte for byte`).to.equal(true);
            continue;
          }
          expect(same, `${t.name} changed`).to.equal(false);
          const m = t.shape[0];
          const n = t.shape.slice(1).reduce((a, b) => a * b, 1);
          const err = orthError(decode(dtype, out.tensor(t.name)), m, n);
          expect(err, `${t.name} (float64 check)`).to.be.at.most(tolerance(dtype, m, n));
        }

        const tol = Math.max(...done.map((name) => tensors.find((t) => t.name === name)).map((t) => tolerance(dtype, t.shape[0], t.shape.slice(1).reduce((a, b) => a * b, 1))));
        const rep = cli(['report', output, '--json', '--check', String(tol), '--exclude', '^embed\\.']);
        expect(rep.status, rep.stderr).to.equal(0);
        const report = JSON.parse(rep.stdout);
        expect(report.check).to.deep.include({ passed: true, failing: [] });
        expect(report.metadata).to.deep.equal({ format: 'pt', origin: 'test' });
        const conv = report.tensors.find((t) => t.name === 'layers.0.conv.weight');
        expect(conv.matrix).to.deep.equal([8, 27]);
        expect(conv.sigmaMin).to.be.closeTo(1, 50 * tol);
        expect(conv.sigmaMax).to.be.closeTo(1, 50 * tol);
        expect(conv.stableRank).to.be.closeTo(8, 0.1);
        expect(report.tensors.find((t) => t.name === 'mask')).to.include({ matrix: null, skipped: 'BOOL: not a float dtype' });
        // The input does not pass: the check can fail.
        expect(cli(['report', input, '--check', String(tol), '--exclude', '^embed\\.']).status).to.equal(1);
      });
    }

    it('every preset orthogonalizes a tall and a wide F32 weight (cholesky via the transpose)', function () {
      const input = write(
        'm.safetensors',
        safetensors([
          { name: 'tall', dtype: 'F32', shape: [48, 16], bytes: f32Bytes(gaussian(48 * 16, 11)) },
          { name: 'wide', dtype: 'F32', shape: [16, 48], bytes: f32Bytes(gaussian(48 * 16, 12)) },
        ]),
      );
      // Tolerances per preset: orthogonium's own (test: 1e-4, cholesky: 5e-5 in
      // its tests) on well-conditioned input, in float32 terms.
      for (const preset of ['default', 'bjorck-pass-through', 'cholesky', 'cholesky-stable', 'test', 'exp', 'qr', 'polar']) {
        const output = tmp.file(`${preset}.safetensors`);
        const r = cli(['orthogonalize', input, '-o', output, '--params', preset, '-q']);
        expect(r.status, r.stderr).to.equal(0);
        expect(r.stdout).to.equal('');
        const out = readSafetensors(output);
        expect(orthError(decode('F32', out.tensor('tall')), 48, 16), `${preset} tall`).to.be.below(1e-4);
        expect(orthError(decode('F32', out.tensor('wide')), 16, 48), `${preset} wide`).to.be.below(1e-4);
      }
    });

    it('polar is the default: Gaussian F32 and scale-0.02 BF16 weights come out orthogonal; --tol is passed on', function () {
      const g = (n, seed, scale) => gaussian(n, seed).map((v) => v * scale);
      const input = write(
        'p.safetensors',
        safetensors([
          { name: 'square', dtype: 'F32', shape: [64, 64], bytes: f32Bytes(gaussian(64 * 64, 31)) },
          { name: 'tall', dtype: 'F32', shape: [96, 32], bytes: f32Bytes(gaussian(96 * 32, 32)) },
          { name: 'bf16.square', dtype: 'BF16', shape: [48, 48], bytes: bf16Bytes(g(48 * 48, 33, 0.02)) },
          { name: 'bf16.wide', dtype: 'BF16', shape: [32, 96], bytes: bf16Bytes(g(32 * 96, 34, 0.02)) },
        ]),
      );
      const output = tmp.file('o.safetensors');
      const r = cli(['orthogonalize', input, '-o', output, '--json']);
      expect(r.status, r.stderr).to.equal(0);
      const summary = JSON.parse(r.stdout);
      expect(summary).to.include({ preset: 'polar', powerIters: null, tol: null });
      const out = readSafetensors(output);
      // Float32 results to 1e-4 (the polar module stops at 4e-6·√k); bf16 results
      // to what rounding to bf16 allows (2·2⁻⁸·√k, see tolerance()).
      expect(orthError(decode('F32', out.tensor('square')), 64, 64)).to.be.below(1e-4);
      expect(orthError(decode('F32', out.tensor('tall')), 96, 32)).to.be.below(1e-4);
      expect(orthError(decode('BF16', out.tensor('bf16.square')), 48, 48)).to.be.below(tolerance('BF16', 48, 48));
      expect(orthError(decode('BF16', out.tensor('bf16.wide')), 32, 96)).to.be.below(tolerance('BF16', 32, 96));
      const rep = cli(['report', output, '--json', '--check', '1e-4', '--include', '^(square|tall)$']);
      expect(rep.status, rep.stderr).to.equal(0);
      expect(JSON.parse(rep.stdout).check).to.deep.include({ passed: true, failing: [] });
      // The input, Gaussian, is far from orthogonal: the check can fail.
      expect(cli(['report', input, '--check', '1e-4', '--include', '^(square|tall)$']).status).to.equal(1);

      const loose = cli(['orthogonalize', input, '-o', tmp.file('l.safetensors'), '--tol', '1e-2', '--json']);
      expect(loose.status, loose.stderr).to.equal(0);
      expect(JSON.parse(loose.stdout).tol).to.equal(0.01);
      const note = cli(['orthogonalize', input, '-o', tmp.file('q.safetensors'), '--params', 'qr', '--tol', '1e-3']);
      expect(note.status).to.equal(0);
      expect(note.stderr).to.match(/--tol has no effect with --params qr/);
      const bad = cli(['orthogonalize', input, '-o', tmp.file('b.safetensors'), '--tol', '0']);
      expect(bad.status).to.equal(2);
      expect(bad.stderr).to.match(/--tol must be a positive number; got '0'/);
    });

    it('a rank-deficient weight stops the run with ERR_ORTHO_RANK_DEFICIENT naming the tensor; nothing is written', function () {
      const w = gaussian(32 * 16, 41);
      for (let i = 0; i < 32; i++) w[i * 16 + 15] = w[i * 16 + 14]; // two equal columns
      const input = write('r.safetensors', safetensors([{ name: 'rank15', dtype: 'F64', shape: [32, 16], bytes: f64Bytes(w) }]));
      const r = cli(['orthogonalize', input, '-o', tmp.file('o.safetensors')]);
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/ERR_ORTHO_RANK_DEFICIENT/).and.to.match(/rank15/).and.to.match(/--exclude/);
      expect(listDir()).to.deep.equal(['r.safetensors']);
    });

    it('--precision: passed to polar and the Björck presets (on the CPU: the float32 bytes), refused by the others (exit 2)', function () {
      const input = write('p.safetensors', safetensors([{ name: 'w', dtype: 'F32', shape: [96, 80], bytes: f32Bytes(nearIdentity(96, 80, 43)) }]));
      for (const preset of ['default', 'polar']) {
        const full = cli(['orthogonalize', input, '-o', tmp.file(`f-${preset}.safetensors`), '--params', preset, '--device', 'cpu']);
        expect(full.status, full.stderr).to.equal(0);
        const tf32 = cli(['orthogonalize', input, '-o', tmp.file(`t-${preset}.safetensors`), '--params', preset, '--device', 'cpu', '--precision', 'tf32', '--json']);
        expect(tf32.status, tf32.stderr).to.equal(0);
        expect(JSON.parse(tf32.stdout).precision).to.equal('tf32');
        expect(sha256(tmp.file(`t-${preset}.safetensors`))).to.equal(sha256(tmp.file(`f-${preset}.safetensors`)));
      }
      const qr = cli(['orthogonalize', input, '-o', tmp.file('x.safetensors'), '--params', 'qr', '--precision', 'bf16']);
      expect(qr.status).to.equal(2);
      expect(qr.stderr).to.match(/--precision bf16 needs a preset that iterates matrix products.*--params qr/);
      const bad = cli(['orthogonalize', input, '-o', tmp.file('y.safetensors'), '--precision', 'fp16']);
      expect(bad.status).to.equal(2);
      expect(bad.stderr).to.match(/--precision must be one of fp32, tf32, bf16; got 'fp16'/);
      expect(fs.existsSync(tmp.file('x.safetensors')) || fs.existsSync(tmp.file('y.safetensors'))).to.equal(false);
    });

    it('is reproducible: the same command gives the same bytes', function () {
      const input = write('m.safetensors', safetensors(modelTensors('F32')));
      expect(cli(['orthogonalize', input, '-o', tmp.file('a.safetensors')]).status).to.equal(0);
      expect(cli(['orthogonalize', input, '-o', tmp.file('b.safetensors')]).status).to.equal(0);
      expect(sha256(tmp.file('a.safetensors'))).to.equal(sha256(tmp.file('b.safetensors')));
    });
  });

  describe('the weight rule', function () {
    it('--include/--exclude select by regular expression, --dry-run writes nothing', function () {
      const input = write('m.safetensors', safetensors(modelTensors('F32')));
      const r = cli(['orthogonalize', input, '--dry-run', '--json', '--include', 'attn|mlp', '--exclude', 'bias']);
      expect(r.status, r.stderr).to.equal(0);
      const plan = JSON.parse(r.stdout);
      expect(plan.dryRun).to.equal(true);
      const byName = Object.fromEntries(plan.tensors.map((t) => [t.name, t]));
      expect(byName['layers.0.attn.weight']).to.include({ action: 'orthogonalize', computeDtype: 'float32' });
      expect(byName['layers.0.mlp.weight'].matrix).to.deep.equal([16, 48]);
      expect(byName['layers.0.attn.bias']).to.include({ action: 'copy', reason: 'excluded by --exclude bias' });
      expect(byName['layers.0.conv.weight']).to.include({ action: 'copy', reason: 'not matched by --include' });
      expect(byName['position_ids']).to.include({ action: 'copy' });
      expect(listDir()).to.deep.equal(['m.safetensors']);
      const table = cli(['orthogonalize', input, '-n', '--exclude', 'bias']);
      expect(table.stdout).to.match(/layers\.0\.conv\.weight +F32 +\[8, 3, 3, 3\] +orthogonalize as \[8, 27\], then reshape back \(float32\)/);
      expect(table.stdout).to.match(/layers\.0\.attn\.bias +F32 +\[24\] +copy: excluded by --exclude bias/);
    });

    it('a conv kernel [out, in, kh, kw] is orthogonalized as [out, in·kh·kw] and keeps its shape', function () {
      const input = write('c.safetensors', safetensors([{ name: 'conv', dtype: 'F64', shape: [6, 2, 3, 3], bytes: f64Bytes(gaussian(108, 21)) }]));
      const output = tmp.file('o.safetensors');
      expect(cli(['orthogonalize', input, '-o', output, '--params', 'qr']).status).to.equal(0);
      const out = readSafetensors(output);
      expect(out.header.conv.shape).to.deep.equal([6, 2, 3, 3]);
      expect(orthError(decode('F64', out.tensor('conv')), 6, 18)).to.be.below(1e-12);
    });

    it('--batch-dims 1 orthogonalizes each matrix of a stack', function () {
      const values = [0, 1, 2].flatMap((s) => nearIdentity(8, 8, 30 + s));
      const input = write('s.safetensors', safetensors([{ name: 'experts', dtype: 'F64', shape: [3, 8, 8], bytes: f64Bytes(values) }]));
      const output = tmp.file('o.safetensors');
      expect(cli(['orthogonalize', input, '-o', output, '--batch-dims', '1', '--params', 'test']).status).to.equal(0);
      const w = decode('F64', readSafetensors(output).tensor('experts'));
      for (let b = 0; b < 3; b++) expect(orthError(w.slice(64 * b, 64 * (b + 1)), 8, 8)).to.be.below(1e-10);
      const rep = JSON.parse(cli(['report', output, '--batch-dims', '1', '--json']).stdout);
      expect(rep.tensors[0].perMatrix).to.have.length(3);
      // Without --batch-dims the same tensor is one [3, 64] matrix.
      expect(JSON.parse(cli(['report', input, '--json']).stdout).tensors[0].matrix).to.deep.equal([3, 64]);
    });

    it('scalars, vectors, empty tensors and non-float dtypes are never processed', function () {
      const tensors = [
        { name: 'scalar', dtype: 'F32', shape: [], bytes: f32Bytes([3]) },
        { name: 'empty', dtype: 'F32', shape: [0, 5], bytes: Buffer.alloc(0) },
        { name: 'int8', dtype: 'I8', shape: [4, 4], bytes: Buffer.alloc(16, 5) },
        { name: 'fp8', dtype: 'F8_E4M3', shape: [4, 4], bytes: Buffer.alloc(16, 0x38) },
        { name: 'u64', dtype: 'U64', shape: [2, 2], bytes: Buffer.alloc(32, 0xee) },
      ];
      const input = write('x.safetensors', safetensors(tensors, { a: 'b' }));
      const output = tmp.file('o.safetensors');
      const r = cli(['orthogonalize', input, '-o', output]);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/orthogonalized 0 of 5 tensors/);
      expect(sha256(output)).to.equal(sha256(input));
    });
  });

  describe('.npy files', function () {
    const cases = [
      ['<f4', 'F32', true],
      ['>f8', 'F64', false],
      ['<f2', 'F16', true],
      ['>f2', 'F16', false],
    ];
    for (const [descr, dtype, le] of cases) {
      it(`${descr}: round trip, written back in the same dtype and byte order`, function () {
        let data;
        if (dtype === 'F16') {
          data = randomF16Bytes(20 * 8, 40);
          if (!le) data.swap16();
        } else {
          data = dtype === 'F32' ? f32Bytes(gaussian(160, 41)) : f64Bytes(gaussian(160, 41));
          if (!le) data.swap64();
        }
        const input = write('w.npy', npy(descr, [20, 8], data));
        const output = tmp.file('o.npy');
        const r = cli(['orthogonalize', input, '-o', output, '--params', 'test']);
        expect(r.status, r.stderr).to.equal(0);
        const out = readNpy(output);
        expect(out.dict).to.equal(readNpy(input).dict);
        expect(orthError(decode(dtype, out.data, le), 20, 8)).to.be.at.most(tolerance(dtype, 20, 8));
        // An .npy array is named after its file.
        expect(JSON.parse(cli(['report', output, '--json']).stdout).tensors[0]).to.include({ name: 'o', dtype: descr });
      });
    }

    it('a Fortran-ordered array is read column-major and written in C order', function () {
      // A [12, 5] stored column by column.
      const a = gaussian(60, 50);
      const colMajor = [];
      for (let j = 0; j < 5; j++) for (let i = 0; i < 12; i++) colMajor.push(a[i * 5 + j]);
      const input = write('f.npy', npy('<f8', [12, 5], f64Bytes(colMajor), { fortran: true }));
      const cOrder = write('c.npy', npy('<f8', [12, 5], f64Bytes(a)));
      for (const f of [input, cOrder]) expect(cli(['orthogonalize', f, '-o', `${f}.out.npy`, '--params', 'qr']).status).to.equal(0);
      const fromF = readNpy(`${input}.out.npy`);
      expect(fromF.dict).to.include("'fortran_order': False").and.include("'shape': (12, 5)");
      // Same logical array in: same result out.
      expect(Buffer.compare(fromF.data, readNpy(`${cOrder}.out.npy`).data)).to.equal(0);
      expect(orthError(decode('F64', fromF.data), 12, 5)).to.be.below(1e-12);
    });

    it('vectors and non-float arrays are copied byte for byte', function () {
      for (const [name, bytes] of [
        ['v.npy', npy('<f4', [7], f32Bytes(gaussian(7, 1)))],
        ['i.npy', npy('<i8', [3, 3], Buffer.alloc(72, 3))],
      ]) {
        const input = write(name, bytes);
        expect(cli(['orthogonalize', input, '-o', `${input}.out`, '-q']).status).to.equal(0);
        expect(sha256(`${input}.out`)).to.equal(sha256(input));
      }
    });
  });

  describe('corrupt files: exit 1, a message naming the file and the problem, no output', function () {
    const w = '"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';
    const cases = [
      ['bad header length', safetensorsRaw(`{${w}}`, Buffer.alloc(8), { headerLength: 1e6 }), /bad header length: 1000000 bytes, but the file has only/],
      ['header length over the limit', safetensorsRaw('{}', Buffer.alloc(8), { headerLength: 2e8 }), /exceeds the limit of 100000000/],
      ['bad JSON', safetensorsRaw(`{${w},}`, Buffer.alloc(8)), /bad header: invalid JSON/],
      ['duplicate names', safetensorsRaw(`{${w},${w}}`, Buffer.alloc(8)), /duplicate key "w"/],
      ['unknown dtype', safetensorsRaw('{"w":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}}', Buffer.alloc(8)), /tensor "w": unknown dtype "F12"/],
      ['shape and byte length that disagree', safetensorsRaw('{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}}', Buffer.alloc(8)), /shape and byte length disagree/],
      ['offsets out of range', safetensorsRaw('{"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', Buffer.alloc(8)), /out of range/],
      ['overlapping offsets', safetensorsRaw('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', Buffer.alloc(12)), /overlaps tensor "a"/],
      ['a hole in the data', safetensorsRaw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', Buffer.alloc(12)), /belong to no tensor/],
      ['a truncated file', safetensors([{ name: 'w', dtype: 'F32', shape: [4, 4], bytes: f32Bytes(gaussian(16, 1)) }]).subarray(0, -10), /the file is truncated/],
      ['an empty file', Buffer.alloc(0), /bad header length: the file has 0 bytes/],
      ['a truncated .npy', npy('<f4', [4, 4], Buffer.alloc(60)), /truncated/, 'bad.npy'],
    ];
    for (const [what, bytes, re, name = 'bad.safetensors'] of cases) {
      it(what, function () {
        const input = write(name, bytes);
        for (const args of [['orthogonalize', input, '-o', tmp.file('out')], ['report', input]]) {
          const r = cli(args);
          expect(r.status, r.stderr).to.equal(1);
          expect(r.stderr).to.match(/^error \[ERR_ORTHO_(FORMAT|UNSUPPORTED)\]: /);
          expect(r.stderr).to.include(input);
          expect(r.stderr).to.match(re);
        }
        expect(listDir()).to.deep.equal([name]);
      });
    }
  });

  describe('nothing lost', function () {
    /** A file whose weights take a moment each, so that a run can be caught mid-file. */
    function slowModel() {
      return safetensors(
        [0, 1, 2, 3].map((i) => ({ name: `layers.${i}.weight`, dtype: 'F32', shape: [64, 48], bytes: f32Bytes(gaussian(64 * 48, 60 + i)) })),
        { format: 'pt' },
      );
    }

    for (const signal of ['SIGINT', 'SIGTERM']) {
      it(`${signal} mid-run leaves no output and no temporary file, and the input unchanged`, async function () {
        const input = write('model.safetensors', slowModel());
        const before = sha256(input);
        const output = tmp.file('out.safetensors');
        // The documented test hook pauses after the first tensor is written.
        const run = cliProcess(['orthogonalize', input, '-o', output], { env: { ORTHOGONIUM_TEST_PAUSE_AFTER: '1' } });
        await run.waitFor(/paused after 1 tensor/);
        const temp = listDir().filter((f) => f.endsWith('.orthogonium-tmp'));
        expect(temp, 'a temporary file is being written').to.have.length(1);
        expect(temp[0]).to.match(/^\.out\.safetensors\./);
        run.child.kill(signal);
        const { code, signal: got, stderr } = await run.exited;
        expect(got, `exit code ${code}`).to.equal(signal);
        expect(stderr).to.include(`interrupted by ${signal}; no output written`);
        expect(listDir()).to.deep.equal(['model.safetensors']);
        expect(sha256(input)).to.equal(before);
      });
    }

    it('an error mid-file (NaN in the third weight) exits 1 naming the tensor, with no output', function () {
      const values = gaussian(64 * 48, 70);
      values[100] = NaN;
      const tensors = [0, 1, 2, 3].map((i) => ({ name: `l${i}`, dtype: 'F32', shape: [64, 48], bytes: f32Bytes(i === 2 ? values : gaussian(64 * 48, i)) }));
      const input = write('nan.safetensors', safetensors(tensors));
      const before = sha256(input);
      const r = cli(['orthogonalize', input, '-o', tmp.file('out.safetensors')]);
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/^error \[ERR_ORTHO_NON_FINITE\]: .*nan\.safetensors: tensor "l2" \(F32 \[64, 48\] as \[64, 48\]\): /);
      expect(listDir()).to.deep.equal(['nan.safetensors']);
      expect(sha256(input)).to.equal(before);
      // report marks it instead of failing, and --check counts it as failing.
      const rep = JSON.parse(cli(['report', input, '--json']).stdout);
      expect(rep.tensors[2]).to.include({ nonFinite: true, sigmaMax: null });
      expect(cli(['report', input, '--check', '10']).stderr).to.match(/check failed: .*l2/);
    });

    it('the output may not be the input: same path, a symlink, a hard link (exit 2, input untouched)', function () {
      const input = write('m.safetensors', slowModel());
      const before = sha256(input);
      fs.symlinkSync(input, tmp.file('sym.safetensors'));
      fs.linkSync(input, tmp.file('hard.safetensors'));
      const aliases = [input, tmp.file('sym.safetensors'), tmp.file('hard.safetensors'), path.join(tmp.dir, '.', 'm.safetensors')];
      for (const output of aliases) {
        for (const extra of [[], ['--force']]) {
          const r = cli(['orthogonalize', input, '-o', output, ...extra]);
          expect(r.status, output).to.equal(2);
          expect(r.stderr).to.match(/error: the output must not be the input/);
        }
      }
      expect(sha256(input)).to.equal(before);
      expect(listDir()).to.deep.equal(['hard.safetensors', 'm.safetensors', 'sym.safetensors']);
    });

    it('an existing output is kept unless --force', function () {
      const input = write('m.safetensors', slowModel());
      const output = write('out.safetensors', Buffer.from('precious'));
      const r = cli(['orthogonalize', input, '-o', output]);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.match(/exists; pass --force to replace it/);
      expect(fs.readFileSync(output, 'utf8')).to.equal('precious');
      expect(cli(['orthogonalize', input, '-o', output, '--force', '-q']).status).to.equal(0);
      expect(readSafetensors(output).header.__metadata__).to.deep.equal({ format: 'pt' });
      expect(listDir()).to.deep.equal(['m.safetensors', 'out.safetensors']);
    });

    it('a missing input or output directory is a processing error (exit 1)', function () {
      let r = cli(['orthogonalize', tmp.file('nope.safetensors'), '-o', tmp.file('o')]);
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/^error \[ENOENT\]: .*nope\.safetensors/);
      const input = write('m.safetensors', slowModel());
      r = cli(['orthogonalize', input, '-o', tmp.file('no/such/dir/o.safetensors')]);
      expect(r.status).to.equal(1);
      expect(listDir()).to.deep.equal(['m.safetensors']);
    });

    it('stderr stays silent (no progress bar) when it is not a terminal', function () {
      const input = write('m.safetensors', slowModel());
      const r = cli(['orthogonalize', input, '-o', tmp.file('o.safetensors')]);
      expect(r.status).to.equal(0);
      expect(r.stderr).to.equal('');
      expect(r.stdout).to.match(/^orthogonalized 4 of 4 tensors \(48\.0 KiB\) with --params polar on (cpu|cuda:\d+)/);
    });
  });

  describe('usage, exit codes and help', function () {
    it('usage errors exit 2 and point to --help', function () {
      const input = write('m.safetensors', safetensors(modelTensors('F32')));
      const cases = [
        [[], /Usage: orthogonium <command>/],
        [['frobnicate'], /unknown command 'frobnicate'/],
        [['orthogonalize', input], /missing -o\/--output/],
        [['orthogonalize', '-o', 'x'], /missing the input file/],
        [['orthogonalize', input, '-o', 'x', '--params', 'fast'], /--params must be one of default, bjorck-pass-through, cholesky, cholesky-stable, test, exp, qr, polar; got 'fast'/],
        [['orthogonalize', input, '-o', 'x', '--device', 'tpu'], /--device must be auto, cpu, cuda or cuda:N/],
        [['orthogonalize', input, '-o', 'x', '--dtype', 'float16'], /--dtype must be one of auto, float32, float64/],
        [['orthogonalize', input, '-o', 'x', '--include', '('], /--include '\(' is not a valid regular expression/],
        [['orthogonalize', input, '-o', 'x', '--power-iters', '0'], /--power-iters must be a whole number >= 1/],
        [['orthogonalize', input, '-o', 'x', '--bogus'], /Unknown option '--bogus'/],
        [['report', input, '--check', 'tiny'], /--check must be a positive number/],
        [['report', input, 'extra'], /unexpected argument: extra/],
        [['info', 'now'], /unexpected argument: now/],
      ];
      for (const [args, re] of cases) {
        const r = cli(args);
        expect(r.status, args.join(' ')).to.equal(2);
        expect(r.stdout + r.stderr, args.join(' ')).to.match(re);
      }
      expect(listDir()).to.deep.equal(['m.safetensors']);
    });

    it('--help, for the command and each subcommand, with examples (exit 0)', function () {
      for (const args of [['--help'], ['help'], ['-h'], ['help', 'report'], ['orthogonalize', '--help'], ['report', '-h'], ['info', '--help'], ['demo', '--help']]) {
        const r = cli(args);
        expect(r.status, args.join(' ')).to.equal(0);
        expect(r.stdout).to.match(/Usage: orthogonium/).and.match(/Examples:/);
      }
      const help = cli(['orthogonalize', '--help']).stdout;
      expect(help).to.include('--power-iters N').and.include('[out, in*kh*kw]').and.include('--force');
      expect(cli(['--version']).stdout.trim()).to.match(/^\d+\.\d+\.\d+/);
    });

    it('info prints the version and the backends, and why CUDA is off when it is', function () {
      const r = cli(['info']);
      expect(r.status).to.equal(0);
      expect(r.stdout).to.match(/^orthogonium-node \d+\.\d+\.\d+/).and.match(/cpu: available/);
      const info = JSON.parse(cli(['info', '--json']).stdout);
      const cuda = info.backends.find((b) => b.name === 'cuda');
      if (!cuda.available) {
        expect(cuda.reason).to.be.a('string').that.is.not.empty;
        expect(r.stdout).to.include(`cuda: unavailable: ${cuda.reason}`);
        const d = cli(['orthogonalize', write('m.safetensors', safetensors(modelTensors('F32'))), '-o', tmp.file('o'), '--device', 'cuda']);
        expect(d.status).to.equal(1);
        expect(d.stderr).to.match(/^error \[ERR_ORTHO_DEVICE\]: --device cuda:0: CUDA is unavailable: /);
      }
      // The libraries' own status, GPU or not (test/45 proves loading against the real ones).
      expect(info.cudaLibraries.built).to.be.a('boolean');
      if (info.cudaLibraries.built) {
        if (info.cudaLibraries.ok) {
          expect(info.cudaLibraries.versions).to.match(/^cuBLAS \d+\.\d+\.\d+, cuSOLVER \d+\.\d+\.\d+/);
          expect(r.stdout).to.include(`cuda libraries: ${info.cudaLibraries.versions} from `);
        } else {
          expect(info.cudaLibraries.reason).to.match(/cuBLAS\/cuSOLVER could not be loaded/);
          expect(r.stdout).to.include(`cuda libraries: not loaded: ${info.cudaLibraries.reason}`);
        }
      } else {
        expect(r.stdout).to.not.include('cuda libraries:');
      }
      expect(info.presets).to.have.length(8);
    });

    it('demo: every preset on every shape, honest numbers (--json)', function () {
      const r = cli(['demo', '--json', '--repeat', '1']);
      expect(r.status, r.stderr).to.equal(0);
      const demo = JSON.parse(r.stdout);
      expect(demo.rows).to.have.length(4 * 8);
      for (const row of demo.rows) {
        expect(row.ms).to.be.a('number').that.is.at.least(0);
        expect(row.sigmaMax).to.be.at.most(1.01);
        // Every preset converges on well-conditioned input ...
        if (row.input === 'near-identity' || row.shape[1] !== row.shape[2]) expect(row.maxOrthogonalityError, `${row.preset} ${row.shape}`).to.be.below(2e-4);
      }
      // ... and 12 Björck iterations do not on a square Gaussian (orthogonium's behaviour, shown as it is).
      const g = demo.rows.find((row) => row.input === 'gaussian' && row.shape[1] === row.shape[2] && row.preset === 'default');
      expect(g.inputCondition).to.be.above(100);
      expect(g.maxOrthogonalityError).to.be.above(0.1);
      // The polar preset converges there (float32 residual at most 4e-6 per √k).
      const p = demo.rows.find((row) => row.input === 'gaussian' && row.shape[1] === row.shape[2] && row.preset === 'polar');
      expect(p.maxOrthogonalityError).to.be.below(4e-6 * Math.sqrt(p.shape[2]) * 1.5);
      const table = cli(['demo', '--repeat', '1']).stdout;
      expect(table).to.match(/shape +input +κ\(input\) +preset +time \(ms\) +max orth\. error +σmin +σmax/);
    });
  });
});
