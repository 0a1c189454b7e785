#!/usr/bin/env node
// npm run bench [-- options]: runs the trials of bench/trials.mjs, each
// implementation of each trial in a fresh child process, prints a table
// (ours beside the anchors) and writes bench/results/<machine>-<date>.json
// (bench/charts.mjs draws it; commit it with the results page).
//
// Options:
//   --quick              fewer repetitions; ml-matrix only at 64x256x256
//   --op a,b             only these ops (preset or module names)
//   --size 64x256x256,.. only these sizes
//   --dtype float32      only this dtype
//   --pass forward       only forward (or backward, or async)
//   --impl a,b           only these implementations (orthogonium, numpy, ml-matrix)
//   --list               print the selected trials and exit
//   --out FILE           where to write the JSON (default bench/results/<machine>-<date>.json)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ASYNC_TRIALS, CEILING_SIZES, IMPLS, ML_MATRIX_BUDGET_S, TARGETS, TIMING, TRIALS, flopsOf } from './trials.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

// --- options -------------------------------------------------------------------
function parseArgs(argv) {
  const o = { quick: false, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--list') o.list = true;
    else if (a === '--op') o.ops = value().split(',');
    else if (a === '--size') o.sizes = value().split(',');
    else if (a === '--dtype') o.dtypes = value().split(',');
    else if (a === '--pass') o.passes = value().split(',');
    else if (a === '--impl') o.impls = value().split(',');
    else if (a === '--out') o.out = value();
    else if (a === '--help' || a === '-h') {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 15).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  return o;
}

function selected(trial, o) {
  const passKind = trial.pass.startsWith('async') ? 'async' : trial.pass;
  return (
    (!o.ops || o.ops.includes(trial.op)) &&
    (!o.sizes || o.sizes.includes(trial.shape.join('x'))) &&
    (!o.dtypes || o.dtypes.includes(trial.dtype)) &&
    (!o.passes || o.passes.includes(passKind))
  );
}

// ml-matrix computes in JS numbers (float64) whatever the dtype: it runs on
// the float32 trials only, and in --quick mode at 64x256x256 only.
function implsFor(trial, o) {
  return trial.impls.filter((impl) => {
    if (o.impls && !o.impls.includes(impl)) return false;
    if (impl === 'ml-matrix') return trial.dtype === 'float32' && (!o.quick || trial.shape.join('x') === '64x256x256');
    return true;
  });
}

// --- machine and versions --------------------------------------------------------
function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

function cpuModel() {
  try {
    const m = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m);
    if (m) return m[1];
  } catch {
    /* not Linux */
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function numpyInfo() {
  const out = sh('python3', [path.join(here, 'anchors', 'numpy_anchor.py'), '--versions']);
  if (!out) return null;
  try {
    const v = JSON.parse(out);
    return v.numpy ? v : null;
  } catch {
    return null;
  }
}

// --- children ----------------------------------------------------------------------
function runChild(cmd, args, timeoutS, env = process.env) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 1 << 24, cwd: path.join(here, '..'), env });
  if (r.error?.code === 'ETIMEDOUT' || r.signal === 'SIGTERM') return { ok: false, error: `timed out after ${timeoutS} s` };
  const line = (r.stdout || '').trim().split('\n').pop();
  try {
    return JSON.parse(line);
  } catch {
    return { ok: false, error: `child failed (status ${r.status}): ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' | ')}` };
  }
}

function runImpl(impl, trial, timing) {
  const spec = IMPLS[impl];
  if (spec.kind === 'python') {
    // numpy at its best here: OpenBLAS with its default threads (all cores)
    // and with one thread, the faster counts. Why both: on a shared machine
    // OpenBLAS's threads spin-wait for a descheduled partner and a threaded
    // LAPACK call can take many times longer; one thread avoids that, and
    // is also what numpy gives where the BLAS is built single-threaded.
    const args = [path.join(here, spec.script), JSON.stringify({ ...trial, timing })];
    const all = runChild('python3', args, 150);
    const one = runChild('python3', args, 150, { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' });
    const best = !one.ok ? all : !all.ok || one.median_s < all.median_s ? one : all;
    return { ...best, blas_threads: best === one ? 1 : 'default', median_s_default_threads: all.ok ? all.median_s : null, median_s_one_thread: one.ok ? one.median_s : null };
  }
  if (impl === 'ml-matrix') {
    // A child still running after ML_MATRIX_BUDGET_S plus its measuring
    // budget has spent over a minute on one matrix.
    const r = runChild(process.execPath, [path.join(here, 'child.mjs'), JSON.stringify({ impl, trial, timing })], ML_MATRIX_BUDGET_S + timing.mlBudgetS + 5);
    return r.error?.startsWith('timed out') ? { ok: false, skipped: `one matrix takes over ${ML_MATRIX_BUDGET_S} s` } : r;
  }
  return runChild(process.execPath, [path.join(here, 'child.mjs'), JSON.stringify({ impl, trial, timing })], 300);
}

// --- table -----------------------------------------------------------------------------
const fmtMs = (s) => (s == null ? '-' : s * 1e3 >= 100 ? (s * 1e3).toFixed(0) : s * 1e3 >= 1 ? (s * 1e3).toFixed(2) : (s * 1e3).toFixed(3));
const fmtX = (r) => (r == null ? '-' : r >= 100 ? r.toFixed(0) + 'x' : r.toFixed(2) + 'x');
const pad = (s, n) => String(s).padStart(n);

const COLS = [
  ['trial', 62, 'left'],
  ['ours ms', 9],
  ['GFLOP/s', 8],
  ['%ceil', 6],
  ['RSS MB', 7],
  ['numpy ms', 9],
  ['np/ours', 8],
  ['ml-matrix ms', 12],
  ['mlm/ours', 9],
];

function header() {
  return COLS.map(([h, w, a]) => (a === 'left' ? h.padEnd(w) : pad(h, w))).join(' ');
}

function row(r) {
  const o = r.results.orthogonium;
  const np = r.results.numpy;
  const ml = r.results['ml-matrix'];
  const ok = (x) => x && x.ok;
  const cells = [
    r.id.padEnd(62),
    pad(ok(o) ? fmtMs(o.median_s) : 'FAIL', 9),
    pad(ok(o) && o.gflops ? o.gflops.toFixed(1) : '-', 8),
    pad(ok(o) && r.ceilingFraction != null ? (100 * r.ceilingFraction).toFixed(0) + '%' : '-', 6),
    pad(ok(o) ? (o.maxrss_kb / 1024).toFixed(0) : '-', 7),
    pad(ok(np) ? (np.blas_threads === 1 ? 't1 ' : '') + fmtMs(np.median_s) : np ? (np.skipped ? 'skip' : 'FAIL') : '-', 9),
    pad(ok(o) && ok(np) ? fmtX(np.median_s / o.median_s) : '-', 8),
    pad(ok(ml) ? fmtMs(ml.median_s) + (ml.scaled ? '*' : '') : ml ? (ml.skipped ? 'skip' : 'FAIL') : '-', 12),
    pad(ok(o) && ok(ml) ? fmtX(ml.median_s / o.median_s) : '-', 9),
  ];
  return cells.join(' ');
}

// bench/results/<cpu>-<cores>c-<YYYY-MM-DD>[-N].json: named by machine and date.
function defaultOut(machine, started) {
  const cpu = String(machine.cpu ?? os.arch()).toLowerCase().replace(/\((r|tm)\)/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const base = path.join(here, 'results', `${cpu}-${machine.cores}c-${started.toISOString().slice(0, 10)}`);
  for (let n = 1; ; n++) {
    const f = n === 1 ? `${base}.json` : `${base}-${n}.json`;
    if (!fs.existsSync(f)) return f;
  }
}

// --- targets -----------------------------------------------------------------------------
function evaluateTargets(records) {
  return TARGETS.map((t) => {
    const id = `${t.op}/forward/${t.shape.join('x')}/float32`;
    const r = records.find((x) => x.id === id);
    const base = { ...t, id };
    if (!r || !r.results.orthogonium?.ok) return { ...base, status: 'not measured' };
    if (t.anchor === null) {
      if (r.ceilingFraction == null) return { ...base, status: 'not measured' };
      return { ...base, value: r.ceilingFraction, met: r.ceilingFraction >= t.min, status: r.ceilingFraction >= t.min ? 'met' : 'missed' };
    }
    const a = r.results[t.anchor];
    if (!a?.ok) return { ...base, status: `not measured (${t.anchor} ${a?.skipped || a?.error || 'not run'})` };
    const ratio = r.results.orthogonium.median_s / a.median_s;
    return { ...base, value: ratio, met: ratio <= t.max, status: ratio <= t.max ? 'met' : 'missed' };
  });
}

function describeTarget(t) {
  if (t.value == null) return `${t.id.padEnd(40)} ${t.what.padEnd(30)} ${t.status}`;
  const v = t.anchor === null ? `${(100 * t.value).toFixed(0)}% of the ceiling` : `ours/${t.anchor} = ${t.value.toFixed(3)} (${(1 / t.value).toFixed(1)}x faster)`;
  return `${t.id.padEnd(40)} ${t.what.padEnd(30)} ${t.status.toUpperCase().padEnd(7)} ${v}`;
}

// --- main ----------------------------------------------------------------------------------
async function main() {
  const o = parseArgs(process.argv.slice(2));
  const timing = { ...(o.quick ? TIMING.quick : TIMING.full), mlBudgetS: o.quick ? 4 : 8 };
  const trials = [...TRIALS, ...ASYNC_TRIALS].filter((t) => selected(t, o));
  if (o.list) {
    for (const t of trials) console.log(`${t.id.padEnd(48)} ${implsFor(t, o).join(', ')}`);
    console.log(`${trials.length} trials`);
    return;
  }
  for (const f of ['dist/index.js', 'build/Release/orthogonium.node'])
    if (!fs.existsSync(path.join(here, '..', f)) && !fs.existsSync(path.join(here, '..', 'prebuilds')))
      throw new Error(`${f} is missing: build first (npm run compile, or npx cmake-js compile && npx tsc -p .)`);

  const started = new Date();
  const ours = await import('./factories/orthogonium.mjs');
  const mlm = await import('./factories/ml-matrix.mjs');
  const numpy = !o.impls || o.impls.includes('numpy') ? numpyInfo() : null;
  const machine = {
    cpu: cpuModel(),
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memory_gib: +(os.totalmem() / 2 ** 30).toFixed(1),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadavg_start: os.loadavg(),
  };
  const versions = { node: process.version, ...ours.versions(), ...(await mlm.versions()), numpy };
  console.log(`orthogonium-node benchmarks ${started.toISOString()}${o.quick ? ' (quick)' : ''}`);
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory_gib} GiB; load ${machine.loadavg_start.map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`versions: node ${versions.node}, ${versions.cpu} (${versions.threads} threads, kernels ${versions.cpuKernels} on a ${versions.cpuLevel ?? '?'} CPU), ml-matrix ${versions['ml-matrix']}`);
  if (numpy) console.log(`numpy anchor: numpy ${numpy.numpy} (${numpy.blas ?? 'BLAS unknown'}), scipy ${numpy.scipy ?? 'absent'}`);
  else if (!o.impls || o.impls.includes('numpy')) console.log('numpy anchor: skipped (python3 with numpy not found)');

  // The GEMM ceiling, per dtype, through the backend's own batched GEMM.
  const ceiling = {};
  for (const dtype of ['float32', 'float64']) {
    if (!trials.some((t) => t.dtype === dtype)) continue;
    const c = runChild(process.execPath, [path.join(here, 'child.mjs'), JSON.stringify({ ceiling: { dtype, sizes: CEILING_SIZES, reps: o.quick ? 5 : 11 } })], 300);
    if (!c.ok) throw new Error(`GEMM ceiling failed: ${c.error}`);
    ceiling[dtype] = c;
    console.log(
      `GEMM ceiling ${dtype}: ${c.best.gflops.toFixed(1)} GFLOP/s at ${c.best.size.join('x')} ` +
        `(${c.sizes.map((s) => `${s.size.join('x')}: ${s.gflops.toFixed(1)}`).join(', ')})`,
    );
  }

  console.log('\n' + header());
  console.log('-'.repeat(header().length));
  const records = [];
  for (const trial of trials) {
    const flops = flopsOf(trial);
    const rec = { id: trial.id, op: trial.op, group: trial.group, pass: trial.pass, shape: trial.shape, dtype: trial.dtype, flops, results: {} };
    for (const impl of implsFor(trial, o)) {
      if (impl === 'numpy' && !numpy) continue;
      const res = runImpl(impl, trial, timing);
      if (res.ok && flops) res.gflops = (flops * (trial.pass.startsWith('async-x') ? Number(trial.pass.slice(7)) : 1)) / res.median_s / 1e9;
      rec.results[impl] = res;
    }
    const ourRes = rec.results.orthogonium;
    if (ourRes?.ok && flops && ceiling[trial.dtype]) rec.ceilingFraction = ourRes.gflops / ceiling[trial.dtype].best.gflops;
    rec.loadavg = os.loadavg()[0];
    records.push(rec);
    console.log(row(rec));
    if (ourRes?.serial_median_s) console.log(`${''.padEnd(62)} (the same ${trial.pass.slice(6)} calls one by one on the main thread: ${fmtMs(ourRes.serial_median_s)} ms)`);
    for (const [impl, r] of Object.entries(rec.results))
      if (!r.ok) console.log(`${''.padEnd(62)} ${impl}: ${r.skipped ? 'skipped: ' + r.skipped : 'error: ' + r.error}`);
  }
  console.log('\nms: median time of one call; GFLOP/s by the flop counts of bench/trials.mjs; %ceil: of the GEMM ceiling above;');
  console.log('RSS: peak resident set of the trial\'s child process; np/ours, mlm/ours: how many times faster ours is;');
  console.log('numpy: the faster of OpenBLAS with its default threads and with one thread (t1 marks one thread).');
  console.log('* ml-matrix timed on a sub-batch (it loops over matrices) and scaled to the whole batch.');

  const targets = evaluateTargets(records);
  const measured = targets.filter((t) => t.status !== 'not measured');
  if (measured.length) {
    console.log('\nTargets (issue 5, float32):');
    for (const t of measured) console.log('  ' + describeTarget(t));
  }

  machine.loadavg_end = os.loadavg();
  const finished = new Date();
  const report = { started: started.toISOString(), duration_s: (finished - started) / 1000, quick: o.quick, options: o, machine, versions, timing, ceiling, records, targets };
  const out = o.out ?? defaultOut(machine, started);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(report, null, 1));
  console.log(`\n${records.length} trials in ${report.duration_s.toFixed(0)} s; load ${machine.loadavg_end.map((x) => x.toFixed(2)).join(' ')}; results: ${path.relative(process.cwd(), out)}`);
}

main().catch((e) => {
  console.error(`bench: ${e.message}`);
  process.exit(1);
});
