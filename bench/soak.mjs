#!/usr/bin/env node
// Memory soak: runs one workload of bench/soak-workloads.mjs call after call
// and samples the resident set size (RSS) as it goes, after a full GC, so
// that what remains is what the process keeps. Prints RSS against calls,
// a summary (growth after warm-up, over the second half, per call), and
// writes a plot of RSS against calls (SVG) and the samples (JSON).
//
//   node bench/soak.mjs [--workload mix] [--calls 40000] [--samples 40]
//                       [--svg FILE] [--json FILE] [--label TEXT] [--dir DIR]
//   node bench/soak.mjs --plot FILE.svg A.json [B.json ...]   (several runs in one plot)
//
// --leak BYTES keeps BYTES of zero-filled memory per call on purpose: the
// leak the soak must detect (test/75.soak.test.mjs checks that it does).
// --dir: where the cli workload writes its files (default: the system's
// temporary folder).
//
// Each sample records, beside RSS, V8's heap (heapTotal, heapUsed, and the
// committed size of each space), external and ArrayBuffer memory, and on
// Linux the anonymous and file-backed parts of RSS and the open file
// descriptors: what grows tells where. V8's young generation (new_space)
// starts small and doubles, up to twice --max-semi-space-size (32 MiB on
// 64-bit Node 20), as the objects that survive its collections add up: a
// bounded step that a workload allocating much short-lived JS (the
// command line) takes late. Node options given to this script (e.g.
// --max-semi-space-size=1, which pins it small) reach the measured process.
//
// Workloads: see WORKLOADS in bench/soak-workloads.mjs (mix, clone, randn,
// forward, modules, workers, cli). The first quarter of the calls is the
// warm-up (caches filling); a leak shows as growth after it, a plateau as
// none. Runs with --expose-gc (restarts itself with it when missing).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as v8 from 'node:v8';
import { WORKLOADS, makeWorkload } from './soak-workloads.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

if (typeof globalThis.gc !== 'function') {
  const r = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
}

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    workload: { type: 'string', default: 'mix' },
    calls: { type: 'string' },
    samples: { type: 'string', default: '40' },
    svg: { type: 'string' },
    json: { type: 'string' },
    label: { type: 'string' },
    plot: { type: 'string' },
    quiet: { type: 'boolean', default: false },
    leak: { type: 'string', default: '0' },
    dir: { type: 'string' },
  },
});

const DEFAULT_CALLS = { mix: 40000, small: 40000, clone: 40000, randn: 40000, forward: 40000, modules: 10000, workers: 400, cli: 8000 };

/** Least-squares slope of y against x. */
function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  return sxx ? sxy / sxx : 0;
}

/**
 * The summary of samples [{ calls, rss }] (rss in bytes): RSS after warm-up
 * (a quarter of the calls), at the half, at the end and its maximum; growth
 * after warm-up and over the second half; the second half's least-squares
 * slope in bytes per call.
 */
export function summarize(samples) {
  const total = samples.at(-1).calls;
  const at = (frac) => samples.find((s) => s.calls >= total * frac) ?? samples.at(-1);
  const warm = at(0.25), mid = at(0.5), end = samples.at(-1);
  const second = samples.filter((s) => s.calls >= mid.calls);
  const afterWarm = samples.filter((s) => s.calls >= warm.calls);
  return {
    calls: total,
    rssStart: samples[0].rss,
    rssWarm: warm.rss,
    rssMid: mid.rss,
    rssEnd: end.rss,
    rssMax: Math.max(...afterWarm.map((s) => s.rss)),
    growthAfterWarmUp: Math.max(...afterWarm.map((s) => s.rss)) - warm.rss,
    growthSecondHalf: end.rss - mid.rss,
    bytesPerCallSecondHalf: slope(second.map((s) => s.calls), second.map((s) => s.rss)),
  };
}

const mib = (b) => (b / 2 ** 20).toFixed(1);

/** An SVG line plot of RSS (MiB) against calls for one or more runs. */
export function plotSvg(runs, title) {
  const W = 760, H = 420, L = 70, R = 20, T = 40, B = 60;
  const maxCalls = Math.max(...runs.map((r) => r.samples.at(-1).calls));
  const all = runs.flatMap((r) => r.samples.map((s) => s.rss / 2 ** 20));
  const top = Math.max(...all) * 1.05, bottom = 0;
  const x = (c) => L + ((W - L - R) * c) / maxCalls;
  const y = (m) => T + ((H - T - B) * (top - m)) / (top - bottom);
  const colors = ['#c0392b', '#2471a3', '#1e8449', '#7d3c98', '#b9770e', '#5d6d7e'];
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  const step = (v) => {
    const p = 10 ** Math.floor(Math.log10(v / 5));
    return [1, 2, 5, 10].map((k) => k * p).find((s) => v / s <= 6);
  };
  const ys = step(top), xs = step(maxCalls);
  for (let m = 0; m <= top; m += ys) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y(m)}" y2="${y(m)}" stroke="#ddd"/>`);
    out.push(`<text x="${L - 6}" y="${y(m) + 4}" text-anchor="end">${m}</text>`);
  }
  for (let c = 0; c <= maxCalls; c += xs) {
    out.push(`<line x1="${x(c)}" x2="${x(c)}" y1="${T}" y2="${H - B}" stroke="#eee"/>`);
    out.push(`<text x="${x(c)}" y="${H - B + 16}" text-anchor="middle">${c}</text>`);
  }
  out.push(`<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="black"/>`);
  out.push(`<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="black"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - B + 36}" text-anchor="middle">calls</text>`);
  out.push(`<text transform="translate(18 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">RSS (MiB)</text>`);
  runs.forEach((r, i) => {
    const pts = r.samples.map((s) => `${x(s.calls).toFixed(1)},${y(s.rss / 2 ** 20).toFixed(1)}`).join(' ');
    out.push(`<polyline fill="none" stroke="${colors[i % colors.length]}" stroke-width="2" points="${pts}"/>`);
    out.push(`<rect x="${L + 12}" y="${T + 8 + i * 18}" width="14" height="3" fill="${colors[i % colors.length]}"/>`);
    out.push(`<text x="${L + 32}" y="${T + 13 + i * 18}">${esc(r.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

if (opt.plot) {
  const runs = positionals.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
  fs.writeFileSync(opt.plot, plotSvg(runs, `RSS against calls (${runs.map((r) => r.workload).filter((w, i, a) => a.indexOf(w) === i).join(', ')})`));
  console.log(`wrote ${opt.plot}`);
  process.exit(0);
}

if (!Object.hasOwn(WORKLOADS, opt.workload)) {
  console.error(`unknown workload '${opt.workload}' (${Object.keys(WORKLOADS).join(', ')})`);
  process.exit(2);
}
const calls = Number(opt.calls ?? DEFAULT_CALLS[opt.workload]);
const nSamples = Math.max(4, Number(opt.samples));
const ortho = await import('../index.mjs');
const step = await makeWorkload(ortho, opt.workload, { root, dir: opt.dir });
const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, node ${process.version}, ${process.platform}`;
const label = opt.label ?? opt.workload;
if (!opt.quiet) {
  console.log(`soak: ${opt.workload}: ${WORKLOADS[opt.workload]}`);
  console.log(`${calls} calls on ${machine}; ORTHO_CPU_CACHE_MB=${process.env.ORTHO_CPU_CACHE_MB ?? '(default 256)'}`);
  console.log('| calls | RSS (MiB) | heapTotal (MiB) | heapUsed (MiB) | external (MiB) | open fds | seconds |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
}
const leakBytes = Number(opt.leak);
const leaked = [];
const samples = [];
const t0 = performance.now();
// Node-API finalizers run from the event loop after the GC that found their
// objects dead: collect, let them run, collect what they released, measure.
const settle = () => new Promise((r) => setImmediate(r));
// Where the resident memory is, beside V8's totals (Linux; null elsewhere):
// anonymous pages (heaps, V8, our blocks) and file-backed ones, and the
// open file descriptors.
function procStatus() {
  try {
    const st = fs.readFileSync('/proc/self/status', 'utf8');
    const kib = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(st)?.[1] ?? NaN) * 1024;
    return { rssAnon: kib('RssAnon'), rssFile: kib('RssFile'), fds: fs.readdirSync('/proc/self/fd').length };
  } catch {
    return { rssAnon: null, rssFile: null, fds: null };
  }
}
const sample = async (done) => {
  globalThis.gc();
  await settle();
  globalThis.gc();
  const m = process.memoryUsage();
  // V8's committed size per heap space (new space, old space, code space, large objects, ...).
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((sp) => [sp.space_name, sp.space_size]));
  samples.push({
    calls: done,
    rss: m.rss,
    heapTotal: m.heapTotal,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    ...procStatus(),
    spaces,
    seconds: (performance.now() - t0) / 1000,
  });
  if (!opt.quiet)
    console.log(
      `| ${done} | ${mib(m.rss)} | ${mib(m.heapTotal)} | ${mib(m.heapUsed)} | ${mib(m.external)} | ${samples.at(-1).fds ?? '-'} | ${((performance.now() - t0) / 1000).toFixed(1)} |`,
    );
};
await sample(0);
let done = 0;
for (let k = 1; k <= nSamples; k++) {
  const until = Math.round((calls * k) / nSamples);
  for (; done < until; done++) {
    const r = step(done);
    if (r && typeof r.then === 'function') await r;
    if (leakBytes > 0) leaked.push(Buffer.alloc(leakBytes));
  }
  await sample(done);
}
const s = summarize(samples);
const result = { workload: opt.workload, label, machine, calls, cacheMb: process.env.ORTHO_CPU_CACHE_MB ?? null, summary: s, samples };
console.log(
  `${opt.workload}: RSS ${mib(s.rssStart)} -> ${mib(s.rssWarm)} after warm-up -> ${mib(s.rssEnd)} MiB at ${calls} calls; ` +
    `growth after warm-up ${mib(s.growthAfterWarmUp)} MiB, second half ${mib(s.growthSecondHalf)} MiB ` +
    `(${(s.bytesPerCallSecondHalf / 1024).toFixed(3)} KiB per call), ${(samples.at(-1).seconds).toFixed(0)} s`,
);
if (opt.json) fs.writeFileSync(opt.json, JSON.stringify(result, null, 1) + '\n');
if (opt.svg) {
  fs.writeFileSync(opt.svg, plotSvg([result], `RSS against calls: ${label}`));
  if (!opt.quiet) console.log(`wrote ${opt.svg}`);
}
