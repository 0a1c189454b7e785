#!/usr/bin/env node
// SVG charts for bench/RESULTS.md from raw result files: how many times
// faster ours is than the anchor, per case, one panel per size (log scale,
// 1× marked; left of it the anchor is faster).
//
//   node bench/charts.mjs [FILE.json ...] [--out DIR]
//
// A file written by bench/gpu/compare.mjs (ours against PyTorch) gives
// gpu-<device>.svg; one written by bench/run.mjs (ours against numpy)
// gives cpu-<cpu>-<dtype>-<pass>.svg for each dtype and pass it holds.
// Without files: the newest bench/gpu/results-*.json and the newest
// bench/results/*.json of each machine. DIR defaults to bench/charts/.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// The newest file of each machine: names are <machine>-<YYYY-MM-DD>[-<n>].json
// (bench/gpu: results-<machine>-…), so the machine is what precedes the date.
function newestPerMachine(dir, re) {
  if (!fs.existsSync(dir)) return [];
  const byMachine = new Map();
  for (const f of fs.readdirSync(dir).filter((f) => re.test(f))) {
    const m = f.match(/^(.*?)-?(\d{4}-\d{2}-\d{2}.*)\.json$/);
    const [machine, when] = m ? [m[1], m[2]] : [f, ''];
    const seen = byMachine.get(machine);
    if (!seen || when.localeCompare(seen.when, 'en', { numeric: true }) > 0) byMachine.set(machine, { f, when });
  }
  return [...byMachine.values()].map((v) => path.join(dir, v.f));
}

const args = process.argv.slice(2);
let outDir = path.join(here, 'charts');
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--out') outDir = args[++i];
  else if (args[i] === '--help' || args[i] === '-h') {
    console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 12).join('\n'));
    process.exit(0);
  } else files.push(args[i]);
}
// Files named on the command line must be charts' input; found ones that are
// not (bench/results also holds other scripts' files, e.g. polar-*.json)
// are passed over.
const named = files.length > 0;
if (!named) files.push(...newestPerMachine(path.join(here, 'gpu'), /^results-.*\.json$/), ...newestPerMachine(path.join(here, 'results'), /\.json$/));
if (!files.length) {
  console.error('charts: no result files given or found');
  process.exit(1);
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const slug = (s) => String(s).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
const fmt = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + '×';

/**
 * panels: [{ title, bars: [{ label, value, target? }] }]; value = anchor
 * time / ours (above 1: ours faster); target, when given, the speed-up a
 * target asks for (drawn as a tick).
 */
function svgChart({ title, subtitle, anchor, panels }) {
  const W = 760;
  const labelW = 210;
  const plotW = W - labelW - 70;
  const barH = 16;
  const gap = 5;
  const values = panels.flatMap((p) => p.bars.map((b) => b.value)).filter((v) => v > 0);
  const lo = Math.min(0.5, 2 ** Math.floor(Math.log2(Math.min(...values))));
  const hi = Math.max(4, 2 ** Math.ceil(Math.log2(Math.max(...values))));
  const x = (v) => labelW + (plotW * (Math.log(v) - Math.log(lo))) / (Math.log(hi) - Math.log(lo));
  const parts = [];
  let y = 58;
  for (const p of panels) {
    parts.push(`<text x="10" y="${y}" class="panel">${esc(p.title)}</text>`);
    y += 10;
    const top = y;
    for (const b of p.bars) {
      const x0 = x(1);
      const x1 = x(Math.max(b.value, lo));
      const faster = b.value >= 1;
      parts.push(`<text x="${labelW - 8}" y="${y + barH - 4}" class="label" text-anchor="end">${esc(b.label)}</text>`);
      parts.push(`<rect x="${Math.min(x0, x1).toFixed(1)}" y="${y}" width="${Math.abs(x1 - x0).toFixed(1)}" height="${barH}" class="${faster ? 'ours' : 'anchor'}"/>`);
      parts.push(`<text x="${(Math.max(x0, x1) + 4).toFixed(1)}" y="${y + barH - 4}" class="value">${fmt(b.value)}</text>`);
      if (b.target) parts.push(`<line x1="${x(b.target).toFixed(1)}" x2="${x(b.target).toFixed(1)}" y1="${y - 1}" y2="${y + barH + 1}" class="target"/>`);
      y += barH + gap;
    }
    parts.push(`<line x1="${x(1).toFixed(1)}" x2="${x(1).toFixed(1)}" y1="${top - 4}" y2="${y}" class="one"/>`);
    y += 18;
  }
  // Axis: powers of two (and ten when the range is wide).
  const ticks = [];
  for (let v = lo; v <= hi * 1.0001; v *= hi / lo > 512 ? 4 : 2) ticks.push(v);
  const axisY = y;
  parts.push(`<line x1="${labelW}" x2="${labelW + plotW}" y1="${axisY}" y2="${axisY}" class="axis"/>`);
  for (const t of ticks) {
    parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${axisY}" y2="${axisY + 4}" class="axis"/>`);
    parts.push(`<text x="${x(t).toFixed(1)}" y="${axisY + 16}" class="tick" text-anchor="middle">${t >= 1 ? t.toFixed(0) : t.toString()}×</text>`);
  }
  parts.push(
    `<text x="${labelW + plotW / 2}" y="${axisY + 34}" class="tick" text-anchor="middle">${esc(anchor)} time / our time (log scale; right of 1×: ours faster; ticks: targets)</text>`,
  );
  const H = axisY + 46;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<style>
.title{font-size:15px;font-weight:bold}.subtitle{font-size:11px;fill:#555}.panel{font-size:13px;font-weight:bold}
.label,.value,.tick{font-size:11px}.value{fill:#333}.ours{fill:#2a7ab9}.anchor{fill:#d9822b}
.one{stroke:#000;stroke-width:1}.axis{stroke:#555}.target{stroke:#c00;stroke-width:2}
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="22" class="title">${esc(title)}</text>
<text x="10" y="40" class="subtitle">${esc(subtitle)}</text>
${parts.join('\n')}
</svg>
`;
}

function gpuCharts(r, file) {
  const device = Array.isArray(r.device) ? r.device[0] : r.device;
  const sizes = [...new Set(r.rows.map((row) => row.id.match(/\[.*\]$/)[0]))];
  const panels = sizes.map((size) => ({
    title: `${size}, float32`,
    bars: r.rows
      .filter((row) => row.id.endsWith(size) && row.ours > 0 && row.torch > 0)
      .map((row) => ({
        label: row.id.replace(` ${size}`, ''),
        value: row.torch / row.ours,
        target: row.target ? 1 / row.target : undefined,
      })),
  }));
  const torch = r.torch?.torch ? `PyTorch ${r.torch.torch}` : 'PyTorch';
  return [
    {
      name: `gpu-${slug(device)}.svg`,
      svg: svgChart({
        title: `${device}: orthogonium-node against ${torch}`,
        subtitle: `median time per call; ${path.basename(file)}`,
        anchor: 'PyTorch',
        panels,
      }),
    },
  ];
}

function cpuCharts(r, file) {
  const out = [];
  const groups = new Map();
  for (const rec of r.records) {
    const o = rec.results.orthogonium;
    const np = rec.results.numpy;
    if (!o?.ok || !np?.ok || rec.pass.startsWith('async')) continue;
    const key = `${rec.dtype}-${rec.pass}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(rec);
  }
  const targetOf = (rec) => {
    const t = (r.targets ?? []).find((t) => t.id === rec.id && t.anchor === 'numpy');
    return t?.max ? 1 / t.max : undefined;
  };
  for (const [key, recs] of groups) {
    const sizes = [...new Set(recs.map((rec) => rec.shape.join('x')))];
    const panels = sizes.map((size) => ({
      title: `${size}, ${recs[0].dtype}, ${recs[0].pass}`,
      bars: recs
        .filter((rec) => rec.shape.join('x') === size)
        .map((rec) => ({ label: rec.op, value: rec.results.numpy.median_s / rec.results.orthogonium.median_s, target: targetOf(rec) })),
    }));
    const cpu = `${r.machine.cpu}, ${r.machine.cores} cores`;
    out.push({
      name: `cpu-${slug(r.machine.cpu)}-${r.machine.cores}c-${key}.svg`,
      svg: svgChart({
        title: `${cpu}: orthogonium-node against numpy ${r.versions.numpy?.numpy ?? ''}`,
        subtitle: `median time per call; numpy at the faster of its default threads and one thread; ${path.basename(file)}`,
        anchor: 'numpy',
        panels,
      }),
    });
  }
  return out;
}

fs.mkdirSync(outDir, { recursive: true });
for (const file of files) {
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  const charts = r.rows ? gpuCharts(r, file) : r.records ? cpuCharts(r, file) : null;
  if (!charts) {
    if (!named) continue;
    console.error(`charts: ${file} is neither a compare.mjs nor a run.mjs result`);
    process.exitCode = 1;
    continue;
  }
  for (const c of charts) {
    fs.writeFileSync(path.join(outDir, c.name), c.svg);
    console.log(`${path.relative(process.cwd(), path.join(outDir, c.name))} (from ${path.relative(process.cwd(), file)})`);
  }
}
