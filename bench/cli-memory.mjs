#!/usr/bin/env node
// Peak memory of `orthogonium orthogonalize` and `orthogonium report` on a
// large safetensors file: the command line streams one tensor at a time, so
// its peak RSS should stay within a few times the largest tensor, whatever
// the file's size.
//
//   node bench/cli-memory.mjs [--dir DIR] [--tensors 8] [--rows 256] [--cols 262144]
//                             [--params qr] [--keep]
//
// Writes DIR/cli-memory-input.safetensors (default: 8 F32 weights of
// [256, 262144], 256 MiB each, plus small tensors: 2 GiB in all) with the
// library's own writer, runs each command in a fresh Node process (through
// dist/cli/main.js, the code bin/orthogonium.js runs) that reports its own
// peak RSS (process.resourceUsage().maxRSS), prints a JSON summary, and
// deletes the files unless --keep. Needs a build (npm run compile:ts).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { SafetensorsWriter } = require(path.join(root, 'dist/io/safetensors.js'));

const { values: opt } = parseArgs({
  options: {
    dir: { type: 'string', default: os.tmpdir() },
    tensors: { type: 'string', default: '8' },
    rows: { type: 'string', default: '256' },
    cols: { type: 'string', default: '262144' },
    params: { type: 'string', default: 'qr' },
    keep: { type: 'boolean', default: false },
  },
});
const count = Number(opt.tensors);
const rows = Number(opt.rows);
const cols = Number(opt.cols);
const input = path.join(opt.dir, 'cli-memory-input.safetensors');
const output = path.join(opt.dir, 'cli-memory-output.safetensors');

const MiB = 1024 * 1024;

async function generate() {
  const specs = [];
  for (let i = 0; i < count; i++) {
    specs.push({ name: `layers.${i}.weight`, dtype: 'F32', shape: [rows, cols] });
    specs.push({ name: `layers.${i}.bias`, dtype: 'F32', shape: [rows] });
  }
  specs.push({ name: 'step', dtype: 'I64', shape: [1] });
  const fh = await fs.promises.open(input, 'w');
  const writer = await SafetensorsWriter.begin(fh, specs, { format: 'pt', source: 'bench/cli-memory.mjs' });
  // Uniform values in [-1, 1) from xorshift32, written in 16 MiB chunks.
  let s = 12345;
  const chunk = new Float32Array(4 * MiB);
  for (const spec of specs) {
    let left = spec.shape.reduce((a, b) => a * b, 1);
    if (spec.dtype === 'I64') {
      await writer.write(new Uint8Array(8 * left));
      continue;
    }
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      for (let k = 0; k < n; k++) {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        chunk[k] = (s >>> 0) / 2147483648 - 1;
      }
      await writer.write(new Uint8Array(chunk.buffer, 0, 4 * n));
      left -= n;
    }
  }
  writer.finish();
  await fh.sync();
  await fh.close();
}

/** Runs the CLI's main() in a fresh process; returns its exit code, peak RSS (bytes) and wall time. */
function runCli(args) {
  const script = `
    const { main } = require(${JSON.stringify(path.join(root, 'dist/cli/main.js'))});
    const t0 = Date.now();
    main(${JSON.stringify(args)}, { stdout: { write: () => true }, stderr: process.stderr, env: {} }).then((code) => {
      process.stdout.write(JSON.stringify({ code, maxRSS: process.resourceUsage().maxRSS * 1024, seconds: (Date.now() - t0) / 1000 }));
    });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`child failed with status ${r.status}`);
  return JSON.parse(r.stdout);
}

function baseline() {
  // The RSS of a process that loads the addon and does nothing: what the CLI adds is on top.
  const r = spawnSync(
    process.execPath,
    ['-e', `require(${JSON.stringify(path.join(root, 'dist/index.js'))}); process.stdout.write(String(process.resourceUsage().maxRSS * 1024))`],
    { encoding: 'utf8' },
  );
  return Number(r.stdout);
}

const t0 = Date.now();
await generate();
const fileBytes = fs.statSync(input).size;
const largest = rows * cols * 4;
console.error(`generated ${input}: ${(fileBytes / MiB).toFixed(0)} MiB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
try {
  fs.rmSync(output, { force: true });
  const orth = runCli(['orthogonalize', input, '-o', output, '--params', opt.params]);
  const report = runCli(['report', output, '--dtype', 'float32']);
  const summary = {
    machine: `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM`,
    node: process.version,
    file: { bytes: fileBytes, tensors: 2 * count + 1, largestTensorBytes: largest },
    baselineRSS: baseline(),
    orthogonalize: { params: opt.params, ...orth, peakOverLargest: +(orth.maxRSS / largest).toFixed(2), peakOverFile: +(orth.maxRSS / fileBytes).toFixed(3) },
    report: { dtype: 'float32', ...report, peakOverLargest: +(report.maxRSS / largest).toFixed(2), peakOverFile: +(report.maxRSS / fileBytes).toFixed(3) },
  };
  console.log(JSON.stringify(summary, null, 2));
} finally {
  if (!opt.keep) {
    fs.rmSync(input, { force: true });
    fs.rmSync(output, { force: true });
  }
}
