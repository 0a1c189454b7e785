#!/usr/bin/env node
// Device memory one call holds at its peak, per preset: the blocks the
// CUDA caching allocator has handed out by the end of one forward and one
// backward (requiresGrad) on a fresh device, with nothing given back
// (ORTHO_CUDA_CACHE_MB unset: the cap is far above), in units of the
// weight's own size. What a loop of such calls keeps cached between calls
// is at most this, so it says how large ORTHO_CUDA_CACHE_MB must be for a
// loop on weights of a given size to find every block in the cache.
//
//   node bench/cuda-footprint.mjs [--shape 1x256x256] [--dtype float32]
//
// Each preset runs in a child process of its own (a fresh allocator). Runs
// on a GPU, or under tools/cuda-emu (copy this file into its package's
// bench/ folder).
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { shape: { type: 'string', default: '1x256x256' }, dtype: { type: 'string', default: 'float32' } },
});

if (positionals[0] === 'one') {
  const ortho = await import(path.join(root, 'index.mjs'));
  const { createRequire } = await import('node:module');
  const { binding } = createRequire(path.join(root, 'package.json'))('./dist/native.js');
  const shape = opt.shape.split('x').map(Number);
  const m = ortho.PRESETS[positionals[1]].build(shape, { requiresGrad: true, seed: 1 });
  const x = ortho.Tensor.randn(shape, { dtype: opt.dtype, seed: 1, device: 'cuda' });
  const g = ortho.Tensor.randn(shape, { dtype: opt.dtype, seed: 2, device: 'cuda' });
  const y = await m.forward(x);
  const gx = await m.backward(g);
  for (const t of [x, g, y, gx]) t.dispose();
  m.dispose();
  const mem = binding.cudaMemory(0);
  console.log(JSON.stringify({ held: mem.liveBytes + mem.cachedBytes, live: mem.liveBytes }));
} else {
  const { PRESETS } = await import(path.join(root, 'index.mjs'));
  const shape = opt.shape.split('x').map(Number);
  const weight = shape.reduce((a, b) => a * b, 1) * (opt.dtype === 'float64' ? 8 : 4);
  console.log(`| preset | device memory held after one forward + backward of ${opt.shape} ${opt.dtype} (MiB) | in weights |`);
  console.log('|---|---:|---:|');
  for (const name of Object.keys(PRESETS)) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), 'one', name, '--shape', opt.shape, '--dtype', opt.dtype], {
      encoding: 'utf8',
      env: { ...process.env, ORTHO_CUDA_CACHE_MB: undefined },
    });
    if (r.status !== 0) {
      console.log(`| ${name} | failed: ${r.stderr.trim().split('\n').pop()} | |`);
      continue;
    }
    const { held } = JSON.parse(r.stdout.trim().split('\n').pop());
    console.log(`| ${name} | ${(held / 2 ** 20).toFixed(2)} | ${(held / weight).toFixed(1)} |`);
  }
}
