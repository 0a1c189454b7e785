#!/usr/bin/env node
// The CPU kernels of each x86-64 level side by side, in one run:
//   node bench/cpu-levels.mjs [--reps N] [--levels v3,v4] [--full] [--out FILE]
// For every level this binary holds and this CPU runs (or those --levels
// names; ORTHO_CPU_LEVEL in a child process per level and round, rounds
// alternating the levels so that machine drift touches all of them alike),
// float32: the backend's own batched GEMM at 1 x 2048^3 and 64 x 256^3
// (GFLOP/s), and the forward of three presets at 64 x 256 x 256 and
// 4096 x 32 x 32 (ms), or with --full every preset the bench times at every
// size it times (bench/trials.mjs); numpy's matmul (OpenBLAS,
// OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset) as the anchor. Prints a
// markdown table and writes JSON (default
// bench/cpu/levels[-full]-<machine>-<cores>c-<date>.json) with every round's
// medians.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PRESETS as BENCH_PRESETS, SIZES as BENCH_SIZES } from './trials.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const ROUNDS = Number(opt('--reps', 3));
const FULL = args.includes('--full');
const GEMMS = [[1, 2048, 2048, 2048], [64, 256, 256, 256]];
const PRESETS = FULL ? Object.keys(BENCH_PRESETS) : ['default', 'cholesky', 'exp'];
const SHAPES = FULL ? BENCH_SIZES : [[64, 256, 256], [4096, 32, 32]];

// One child: every case at one level, medians of its own repetitions. Inputs
// as the bench makes them (randn / ||.||_F per matrix, so that Cholesky's
// X X^T + 1e-5 I stays positive definite on tall shapes).
const CHILD = `
import { createRequire } from 'node:module';
import { makeInput } from ${JSON.stringify(new URL('./factories/orthogonium.mjs', import.meta.url).href)};
const require = createRequire(${JSON.stringify(import.meta.url)});
const o = require(${JSON.stringify(root)});
const b = require(${JSON.stringify(path.join(root, 'dist', 'native.js'))}).binding;
const med = (xs) => { const s = [...xs].sort((x, y) => x - y); return s[s.length >> 1]; };
const out = { level: o.backends()[0].level, gemm: {}, forward: {} };
for (const [n, m, k, p] of ${JSON.stringify(GEMMS)}) {
  b.benchBackendGemm('float32', 'cpu', n, m, p, k, 2);
  const t = med(b.benchBackendGemm('float32', 'cpu', n, m, p, k, 7));
  out.gemm[n + 'x' + m + 'x' + k + 'x' + p] = (2 * n * m * k * p) / t / 1e9;
}
for (const name of ${JSON.stringify(PRESETS)}) for (const shape of ${JSON.stringify(SHAPES)}) {
  const mod = o.PRESETS[name].build(shape);
  const w = makeInput(o, shape, 'float32', 1);
  for (let i = 0; i < 2; ++i) mod.forwardSync(w).dispose();
  const ts = [];
  for (let i = 0; i < 7; ++i) { const t0 = performance.now(); mod.forwardSync(w).dispose(); ts.push(performance.now() - t0); }
  out.forward[name + ' ' + shape.join('x')] = med(ts);
}
console.log(JSON.stringify(out));`;

const NUMPY = `
import json, time, numpy as np
out = {}
for n, m, k, p in ${JSON.stringify(GEMMS)}:
    a = np.random.default_rng(0).standard_normal((n, m, k), dtype=np.float32)
    c = np.random.default_rng(1).standard_normal((n, k, p), dtype=np.float32)
    for _ in range(2): a @ c
    ts = []
    for _ in range(7):
        t0 = time.perf_counter(); a @ c; ts.append(time.perf_counter() - t0)
    out[f"{n}x{m}x{k}x{p}"] = 2 * n * m * k * p / sorted(ts)[3] / 1e9
print(json.dumps({"numpy": np.__version__, "gemm": out}))`;

const cpu = JSON.parse(spawnSync(process.execPath, ['-e', `console.log(JSON.stringify(require(${JSON.stringify(root)}).backends()[0]))`], { encoding: 'utf8' }).stdout);
const ORDER = ['baseline', 'v2', 'v3', 'v4'];
const runnable = cpu.levels.filter((l) => ORDER.indexOf(l) <= ORDER.indexOf(cpu.cpuLevel ?? 'baseline'));
const asked = opt('--levels', null)?.split(',');
const levels = asked ? runnable.filter((l) => asked.includes(l)) : runnable;
if (asked && levels.length !== asked.length) {
  throw new Error(`--levels ${asked.join(',')}: this binary and CPU run ${runnable.join(', ')}`);
}
const env = { ...process.env };
delete env.OPENBLAS_CORETYPE;
delete env.OPENBLAS_L2_SIZE;
const runs = Object.fromEntries(levels.map((l) => [l, []]));
const numpyRuns = [];
for (let r = 0; r < ROUNDS; ++r) {
  for (const level of r % 2 ? [...levels].reverse() : levels) {
    const c = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD], { encoding: 'utf8', env: { ...process.env, ORTHO_CPU_LEVEL: level } });
    if (c.status !== 0) throw new Error(`level ${level}: ${c.stderr}`);
    runs[level].push(JSON.parse(c.stdout.trim()));
  }
  // numpy in every round too, so that it meets the same drift.
  const np = spawnSync('python3', ['-c', NUMPY], { encoding: 'utf8', env });
  if (np.status === 0) numpyRuns.push(JSON.parse(np.stdout.trim()));
}
const numpy = numpyRuns.length
  ? {
      numpy: numpyRuns[0].numpy,
      gemm: Object.fromEntries(Object.keys(numpyRuns[0].gemm).map((k) => [k, Math.max(...numpyRuns.map((x) => x.gemm[k]))])),
    }
  : null;

// Best of the rounds' medians per case (the least disturbed run).
const best = (level, kind, key, higher) => {
  const xs = runs[level].map((x) => x[kind][key]);
  return higher ? Math.max(...xs) : Math.min(...xs);
};
const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim();
// The CPU's name, family and model as the kernel prints them (only to name
// the machine; the level itself comes from CPUID).
const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
const field = (name) => (cpuinfo.match(new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm')) || [])[1];
const model = field('model name') ?? os.cpus()[0]?.model;
const family = field('cpu family') ? { family: Number(field('cpu family')), model: Number(field('model')) } : {};
const date = new Date().toISOString().slice(0, 10);
const rows = [];
rows.push(`| case | ${levels.join(' | ')} |${numpy ? ' numpy |' : ''}`);
rows.push(`|---|${levels.map(() => '---:').join('|')}|${numpy ? '---:|' : ''}`);
const result = { date, commit, cpu: model, ...family, cpuLevel: cpu.cpuLevel, features: cpu.features, threads: cpu.threads, levels, numpy, gemm: {}, forward: {}, rounds: { ...runs, numpy: numpyRuns } };
for (const key of Object.keys(runs[levels[0]][0].gemm)) {
  const v = levels.map((l) => best(l, 'gemm', key, true));
  result.gemm[key] = Object.fromEntries(levels.map((l, i) => [l, v[i]]));
  rows.push(`| GEMM ${key} (GFLOP/s) | ${v.map((x) => x.toFixed(0)).join(' | ')} |${numpy ? ` ${numpy.gemm[key].toFixed(0)} |` : ''}`);
}
for (const key of Object.keys(runs[levels[0]][0].forward)) {
  const v = levels.map((l) => best(l, 'forward', key, false));
  result.forward[key] = Object.fromEntries(levels.map((l, i) => [l, v[i]]));
  rows.push(`| ${key} forward (ms) | ${v.map((x) => x.toFixed(2)).join(' | ')} |${numpy ? ' |' : ''}`);
}
const fam = family.family !== undefined ? `family ${family.family} model ${family.model}, ` : '';
console.log(`${date}, ${model} (${fam}CPU level ${cpu.cpuLevel}), ${cpu.threads} threads, commit ${commit}, float32`);
console.log(rows.join('\n'));
const slug = String(model).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
const file = opt('--out', path.join(here, 'cpu', `levels${FULL ? '-full' : ''}-${slug}-${os.cpus().length}c-${date}.json`));
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
console.log(`written ${path.relative(process.cwd(), file)}`);
