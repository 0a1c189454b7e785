#!/usr/bin/env node
// Markdown tables from a results file of bench/run.mjs, for RESULTS.md:
//   node bench/report.mjs bench/results/<machine>-<date>.json [--dtype float32]
import * as fs from 'node:fs';

import { ASYNC_TRIALS, TRIALS, flopsOf } from './trials.mjs';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (!file) {
  console.error('usage: node bench/report.mjs <results.json> [--dtype float32|float64]');
  process.exit(1);
}
const dtypeArg = args.includes('--dtype') ? args[args.indexOf('--dtype') + 1] : null;
const r = JSON.parse(fs.readFileSync(file, 'utf8'));

const ms = (s) => (s == null ? '–' : s * 1e3 >= 100 ? (s * 1e3).toFixed(0) : s * 1e3 >= 1 ? (s * 1e3).toFixed(2) : (s * 1e3).toFixed(3));
const x = (v) => (v == null ? '–' : v >= 100 ? `${v.toFixed(0)}×` : `${v.toFixed(2)}×`);

console.log(`Run ${r.started}${r.quick ? ' (quick)' : ''}, ${r.duration_s.toFixed(0)} s; ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memory_gib} GiB; load average ${r.machine.loadavg_start.map((v) => v.toFixed(2)).join(' ')} at start, ${r.machine.loadavg_end.map((v) => v.toFixed(2)).join(' ')} at end.`);
console.log(`node ${r.versions.node}; ${r.versions.cpu}, ${r.versions.threads} threads; ml-matrix ${r.versions['ml-matrix']}; ` + (r.versions.numpy ? `numpy ${r.versions.numpy.numpy} (${r.versions.numpy.blas}), scipy ${r.versions.numpy.scipy ?? 'absent'}, Python ${r.versions.numpy.python}.` : 'numpy absent.'));
console.log('');
for (const [d, c] of Object.entries(r.ceiling))
  console.log(`GEMM ceiling ${d}: **${c.best.gflops.toFixed(1)} GFLOP/s** at ${c.best.size.join('×')} (${c.sizes.map((s) => `${s.size.join('×')}: ${s.gflops.toFixed(1)}`).join(', ')}).  `);
console.log('');

for (const dtype of dtypeArg ? [dtypeArg] : ['float32', 'float64']) {
  const recs = r.records.filter((t) => t.dtype === dtype);
  if (!recs.length) continue;
  console.log(`#### ${dtype}\n`);
  console.log('| trial | ours ms | GFLOP/s | % ceiling | peak RSS MB | numpy ms | numpy/ours | ml-matrix ms | ml-matrix/ours |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const t of recs) {
    const o = t.results.orthogonium;
    const np = t.results.numpy;
    const ml = t.results['ml-matrix'];
    const ok = (v) => v && v.ok;
    const name = t.id.replace(`/${dtype}`, '');
    // Flops from the formulas of trials.mjs (N calls for async-xN).
    const calls = t.pass.startsWith('async-x') ? Number(t.pass.slice('async-x'.length)) : 1;
    const trial = [...TRIALS, ...ASYNC_TRIALS].find((x) => x.id === t.id);
    const flops = trial ? flopsOf(trial) * calls : t.flops;
    const ceil = r.ceiling[dtype]?.best.gflops;
    const cells = [
      name,
      ok(o) ? ms(o.median_s) : 'fail',
      ok(o) && flops ? (flops / o.median_s / 1e9).toFixed(1) : '–',
      ok(o) && flops && ceil ? `${((100 * flops) / o.median_s / 1e9 / ceil).toFixed(0)}%` : '–',
      ok(o) ? (o.maxrss_kb / 1024).toFixed(0) : '–',
      ok(np) ? (np.blas_threads === 1 ? '¹ ' : '') + ms(np.median_s) : np ? (np.skipped ? 'skip' : 'fail') : '–',
      ok(o) && ok(np) ? x(np.median_s / o.median_s) : '–',
      ok(ml) ? ms(ml.median_s) + (ml.scaled ? ` (${ml.batch_used}/${t.shape[0]})` : '') : ml ? (ml.skipped ? 'skip' : 'fail') : '–',
      ok(o) && ok(ml) ? x(ml.median_s / o.median_s) : '–',
    ];
    if (o?.serial_median_s) cells[0] += ` (serial: ${ms(o.serial_median_s)} ms)`;
    console.log(`| ${cells.join(' | ')} |`);
  }
  console.log('');
}

if (r.targets?.some((t) => t.status !== 'not measured')) {
  console.log('| target | wanted | measured | status |');
  console.log('|---|---|---|---|');
  for (const t of r.targets.filter((x) => x.status !== 'not measured')) {
    const v = t.value == null ? '–' : t.anchor === null ? `${(100 * t.value).toFixed(0)}% of the ceiling` : `ours/${t.anchor} = ${t.value.toFixed(3)} (${(1 / t.value).toFixed(2)}× faster)`;
    console.log(`| ${t.id} | ${t.what} | ${v} | ${t.status} |`);
  }
}
