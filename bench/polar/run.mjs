// The polar factor against what a user would pick instead, in one run:
// BatchedPolarOrthogonalization (defaults), orthogonium's default preset
// (3 power iterations + 12 Björck steps) and numpy's SVD polar factor
// (OpenBLAS with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, its own
// thread count), float32 and float64, on every available backend; then the
// quality (residual and distance to the float64 SVD polar factor) on
// Gaussian, σᵢ = 1/i and κ = 1e4 spectra.
//
// Timing: one warm-up, then rounds alternating between the methods, the
// fastest kept (see timeModules).
//
// Usage: node bench/polar/run.mjs [--quick] [--json out.json] [--svg chart.svg]
// Prints markdown tables (what docs/polar.md quotes).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ortho from '../../index.mjs';

const { Tensor, BatchedPolarOrthogonalization, DEFAULT_ORTHO_PARAMS, backends } = ortho;
const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const optArg = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

const numpyEnv = { ...process.env };
delete numpyEnv.OPENBLAS_CORETYPE;
delete numpyEnv.OPENBLAS_L2_SIZE;
function py(...a) {
  const r = spawnSync('python3', [path.join(here, 'svd_polar.py'), ...a.map(String)], { env: numpyEnv, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`svd_polar.py ${a.join(' ')}: ${r.stderr || r.error}`);
  return r.stdout.trim() ? JSON.parse(r.stdout) : null;
}

// Seconds per forward of each maker, on a seeded Gaussian: one warm-up each,
// then `reps` rounds alternating between the makers; the fastest round of
// each is kept (the machine may be shared: the minimum is the least
// disturbed measurement, and alternating exposes every method to the same
// background).
function timeModules(makers, shape, dtype, device, reps) {
  const x = Tensor.randn(shape, { dtype, device, seed: 0 });
  const mods = makers.map((make) => make(shape));
  for (const m of mods) m.forwardSync(x).dispose();
  const best = mods.map(() => Infinity);
  for (let i = 0; i < reps; i++)
    mods.forEach((m, j) => {
      const t0 = process.hrtime.bigint();
      const y = m.forwardSync(x);
      if (device !== 'cpu') y.toTypedArray(); // wait for the device
      best[j] = Math.min(best[j], Number(process.hrtime.bigint() - t0) / 1e9);
      y.dispose();
    });
  const out = mods.map((m, j) => ({
    s: best[j],
    ...(m instanceof BatchedPolarOrthogonalization ? { iterations: m.lastIterations, residual: m.lastResidual } : {}),
  }));
  for (const m of mods) m.dispose();
  x.dispose();
  return out;
}

const SHAPES = [
  [64, 256, 256],
  [4096, 32, 32],
  [1, 1024, 1024],
  [16, 512, 128],
];
const DTYPES = ['float32', 'float64'];
const devices = ['cpu', ...(backends().find((b) => b.name === 'cuda')?.available ? ['cuda:0'] : [])];
const reps = quick ? 1 : 5;
const npReps = quick ? 1 : 2;

const cpuInfo = backends().find((b) => b.name === 'cpu');
const versions = py('versions');
console.log(`# polar bench: ${os.cpus()[0].model}, ${os.cpus().length} logical CPUs; cpu backend ${cpuInfo.threads} threads, level ${cpuInfo.level}; numpy ${versions.numpy} (${versions.blas ?? '?'} ${versions.blas_version ?? ''})\n`);

const speed = [];
console.log('Time per call, the fastest of the rounds:\n');
console.log('| device | dtype | shape | polar (ms) | iterations | default preset (ms) | numpy SVD polar (ms) | polar / numpy | polar / default |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const device of devices)
  for (const dtype of DTYPES)
    for (const shape of SHAPES) {
      const [polar, def] = timeModules(
        [(s) => new BatchedPolarOrthogonalization(s), (s) => DEFAULT_ORTHO_PARAMS.build(s, { seed: 1 })],
        shape,
        dtype,
        device,
        reps,
      );
      const np = device === 'cpu' ? py('time', ...shape, dtype, npReps).min_s : NaN;
      const row = { device, dtype, shape, polarMs: polar.s * 1e3, iterations: polar.iterations, residual: polar.residual, defaultMs: def.s * 1e3, numpyMs: np * 1e3 };
      speed.push(row);
      console.log(
        `| ${device} | ${dtype} | ${shape.join('×')} | ${row.polarMs.toFixed(1)} | ${row.iterations} | ${row.defaultMs.toFixed(1)} | ${Number.isNaN(np) ? '–' : row.numpyMs.toFixed(1)} | ${Number.isNaN(np) ? '–' : (row.polarMs / row.numpyMs).toFixed(2)} | ${(row.polarMs / row.defaultMs).toFixed(2)} |`,
      );
    }

// Quality: residual and distance to the float64 SVD polar factor.
const QSHAPE = quick ? [4, 64, 64] : [8, 256, 256];
const SPECTRA = { gaussian: 'Gaussian', powerlaw: 'σᵢ = 1/i', kappa1e4: 'κ = 1e4' };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'polar-bench-'));
const quality = [];
console.log(`\nQuality on ${QSHAPE.join('×')} (max over the batch; residual ‖QᵀQ − I‖_F/√k, distance ‖Q − UVᵀ‖_F/√k against numpy's float64 SVD):\n`);
console.log('| dtype | spectrum | method | residual | distance | iterations |');
console.log('|---|---|---|---|---|---|');
try {
  for (const dtype of DTYPES)
    for (const [kind, label] of Object.entries(SPECTRA)) {
      const inFile = path.join(tmp, `${kind}.bin`);
      py('make', kind, ...QSHAPE, inFile);
      const data = new Float64Array(fs.readFileSync(inFile).buffer.slice(0));
      const methods = {
        polar: (s) => new BatchedPolarOrthogonalization(s, { onStall: 'flag' }),
        'default preset': (s) => DEFAULT_ORTHO_PARAMS.build(s, { seed: 1 }),
      };
      for (const [name, make] of Object.entries(methods)) {
        const x = Tensor.from(dtype === 'float32' ? Float32Array.from(data) : data, QSHAPE, { dtype });
        const m = make(QSHAPE);
        const y = m.forwardSync(x);
        const its = m instanceof BatchedPolarOrthogonalization ? m.lastIterations : null;
        const outFile = path.join(tmp, `${kind}.${name}.${dtype}.bin`);
        fs.writeFileSync(outFile, Buffer.from(Float64Array.from(y.toTypedArray()).buffer));
        const q = py('compare', inFile, outFile, ...QSHAPE);
        quality.push({ dtype, spectrum: label, method: name, ...q, iterations: its });
        console.log(`| ${dtype} | ${label} | ${name} | ${q.residual.toExponential(1)} | ${q.dist.toExponential(1)} | ${its ?? '–'} |`);
        m.dispose();
        x.dispose();
        y.dispose();
      }
    }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

const jsonOut = optArg('--json');
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify({ versions, cpu: cpuInfo, speed, quality, qualityShape: QSHAPE }, null, 2) + '\n');
const svgOut = optArg('--svg');
if (svgOut) fs.writeFileSync(svgOut, chart(quality));

// A bar chart of log10(distance to the SVD polar factor) per spectrum,
// dtype and method.
function chart(rows) {
  const W = 640, H = 320, left = 60, bottom = 60, top = 30;
  const groups = rows.map((r) => `${r.dtype} ${r.spectrum}`).filter((g, i, a) => a.indexOf(g) === i);
  const methods = rows.map((r) => r.method).filter((g, i, a) => a.indexOf(g) === i);
  const colors = ['#1f77b4', '#d62728', '#2ca02c'];
  const lo = -16, hi = 1;
  const y = (v) => top + ((hi - Math.max(lo, Math.min(hi, v))) / (hi - lo)) * (H - top - bottom);
  const gw = (W - left - 20) / groups.length, bw = (gw - 10) / methods.length;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">distance to the SVD polar factor, ${QSHAPE.join('×')} (log10, lower is better)</text>`,
  ];
  for (let t = lo; t <= hi; t += 2) parts.push(`<line x1="${left}" x2="${W - 20}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/><text x="${left - 6}" y="${y(t) + 4}" text-anchor="end">1e${t}</text>`);
  groups.forEach((g, gi) => {
    methods.forEach((m, mi) => {
      const r = rows.find((q) => `${q.dtype} ${q.spectrum}` === g && q.method === m);
      if (!r) return;
      const v = Math.log10(Math.max(r.dist, 1e-16));
      const x0 = left + gi * gw + 5 + mi * bw;
      parts.push(`<rect x="${x0}" y="${y(v)}" width="${bw - 2}" height="${H - bottom - y(v)}" fill="${colors[mi % colors.length]}"/>`);
    });
    parts.push(`<text x="${left + gi * gw + gw / 2}" y="${H - bottom + 14}" text-anchor="middle">${g.split(' ')[0]}</text>`);
    parts.push(`<text x="${left + gi * gw + gw / 2}" y="${H - bottom + 28}" text-anchor="middle">${g.split(' ').slice(1).join(' ')}</text>`);
  });
  methods.forEach((m, mi) => parts.push(`<rect x="${left + mi * 140}" y="${H - 18}" width="10" height="10" fill="${colors[mi % colors.length]}"/><text x="${left + mi * 140 + 14}" y="${H - 9}">${m}</text>`));
  parts.push('</svg>\n');
  return parts.join('\n');
}
