// Where the time of a GPU case goes (a tool for the device run, not a target):
//   node bench/gpu/profile.mjs breakdown        one table: each module alone, forward and backward
//   node bench/gpu/profile.mjs case ID REPS     runs one compare.mjs-style case REPS times (for nsys)
//   node bench/gpu/profile.mjs prims [ID|ID...] per case, our primitives' GPU time per call
//                                               (ORTHO_CUDA_PROFILE=1, native/cuda/prim_timer.h) next to
//                                               PyTorch's kernels for the same case (torch.profiler)
// IDs: "<preset> <forward|backward> BxMxN", e.g. "default backward 4096x32x32".
import {
  BatchedBjorckOrthogonalization, BatchedCholeskyOrthogonalization, BatchedIdentity,
  BatchedPowerIteration, BatchedQROrthogonalization, PRESETS, Tensor,
} from '../../index.mjs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { median, timed, wellConditioned } from './common.mjs';

// ORTHO_PROFILE_DEVICE and ORTHO_PROFILE_SHAPES (BxMxN,...) are for trying the script without a GPU.
const DEVICE = process.env.ORTHO_PROFILE_DEVICE ?? 'cuda';
// Each module call: the timing loop of compare.mjs, up to 60 calls.
const time = (fn, budget = 0.4) => timed(fn, { budget, maxReps: 60 }).ms;

const MODULES = {
  identity: (s, requiresGrad) => new BatchedIdentity(s, { requiresGrad }),
  'pi(3)': (s, requiresGrad) => new BatchedPowerIteration(s, { powerItNiter: 3, eps: 1e-6, requiresGrad }),
  'bjorck(12)': (s, requiresGrad) => new BatchedBjorckOrthogonalization(s, { beta: 0.5, niters: 12, requiresGrad }),
  cholesky: (s, requiresGrad) => new BatchedCholeskyOrthogonalization(s, { requiresGrad }),
  qr: (s, requiresGrad) => new BatchedQROrthogonalization(s, { requiresGrad }),
};

function breakdown() {
  const shapes = process.env.ORTHO_PROFILE_SHAPES?.split(',').map((d) => d.split('x').map(Number)) ?? [[4096, 32, 32], [64, 256, 256], [1, 4096, 4096]];
  console.log(`module            shape              fwd(no grad)  fwd(grad)   backward   (median ms, float32, ${DEVICE})`);
  for (const shape of shapes) {
    const x = wellConditioned(shape, DEVICE);
    const g = Tensor.randn(shape, { seed: 2, device: DEVICE });
    for (const [name, make] of Object.entries(MODULES)) {
      if (name === 'qr' && shape[0] === 4096) continue;
      const plain = make(shape, true);
      const nog = make(shape, false);
      const budget = shape[1] === 4096 ? 1.0 : 0.4;
      const f0 = time(() => nog.forwardSync(x), budget);
      const f1 = time(() => plain.forwardSync(x), budget);
      plain.forwardSync(x).dispose();
      const b = time(() => plain.backwardSync(g), budget);
      console.log(`${name.padEnd(17)} ${JSON.stringify(shape).padEnd(18)} ${f0.toFixed(3).padStart(11)} ${f1.toFixed(3).padStart(10)} ${b.toFixed(3).padStart(10)}`);
      plain.dispose(); nog.dispose();
    }
    x.dispose(); g.dispose();
  }
}

function oneCase(id, reps) {
  const [preset, kind, dims] = id.split(' ');
  const shape = dims.split('x').map(Number);
  const x = wellConditioned(shape, DEVICE);
  const m = PRESETS[preset].build(shape, { seed: 0, requiresGrad: kind === 'backward' });
  let fn = () => m.forwardSync(x);
  if (kind === 'backward') {
    m.forwardSync(x).dispose();
    const g = Tensor.randn(shape, { seed: 2, device: DEVICE });
    fn = () => m.backwardSync(g);
  }
  for (let i = 0; i < 3; i++) fn().dispose();
  process.stderr.write('ortho-prim-begin\n');  // what `prims` counts starts here
  const ts = [];
  for (let i = 0; i < reps; i++) { const t0 = performance.now(); fn().dispose(); ts.push(performance.now() - t0); }
  console.log(`${id}: median ${median(ts).toFixed(3)} ms over ${reps}`);
}

// The cases nearest their targets in the H100 run of bench/RESULTS.md
// (bench/gpu/results-h100-2026-11-28-2.json).
const PRIM_CASES = 'qr forward 1x4096x4096|default forward 1x4096x4096|cholesky forward 4096x32x32|default forward 4096x32x32';

// Sums the "ortho-prim <path> <ms>" lines after the begin marker, per path.
function primTable(stderr, reps) {
  const rows = new Map();
  let on = false;
  for (const line of stderr.split('\n')) {
    if (line === 'ortho-prim-begin') on = true;
    const m = on && /^ortho-prim (\S+) (-?[\d.]+)$/.exec(line);
    if (!m) continue;
    const r = rows.get(m[1]) ?? { path: m[1], calls: 0, ms: 0 };
    r.calls += 1 / reps;
    r.ms += Number(m[2]) / reps;
    rows.set(m[1], r);
  }
  return [...rows.values()].sort((a, b) => b.ms - a.ms);
}

function prims(ids) {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const id of ids) {
    const reps = id.includes(' 1x') ? 4 : 20;
    const ours = spawnSync(process.execPath, [join(here, 'profile.mjs'), 'case', id, String(reps)], {
      env: { ...process.env, ORTHO_CUDA_PROFILE: '1' }, encoding: 'utf8', maxBuffer: 1 << 28, timeout: 120000,
    });
    console.log(`===== ${id}: ours, ${(ours.stdout || '').trim()} (each primitive waited for: the sum exceeds a normal call)`);
    if (ours.status !== 0) console.log(`  exited ${ours.status ?? ours.signal}: ${(ours.stderr || '').slice(-1500)}`);
    console.log('  ms/call   calls/call  primitive (a/b: b called inside a)');
    for (const r of primTable(ours.stderr || '', reps).slice(0, 25))
      console.log(`  ${r.ms.toFixed(4).padStart(8)}  ${r.calls.toFixed(1).padStart(10)}  ${r.path}`);
    const [preset, kind, dims] = id.split(' ');
    const c = { id, preset, kind, shape: dims.split('x').map(Number), warmup: 3, minReps: reps, budget: 0, profile: true };
    const py = spawnSync('python3', [join(here, 'torch_ref.py')], { input: JSON.stringify([c]), encoding: 'utf8', timeout: 180000 });
    let res;
    try { res = JSON.parse(py.stdout).results[0]; } catch { res = { error: `python3 exited ${py.status ?? py.signal}: ${(py.stderr || '').slice(-800)}` }; }
    if (res.error || !res.kernels) { console.log(`===== ${id}: PyTorch: ${res.error ?? 'no kernel list'}`); continue; }
    console.log(`===== ${id}: PyTorch, median ${res.ms.toFixed(3)} ms (torch.profiler over ${reps} calls)`);
    console.log('  ms/call   calls/call  kernel');
    for (const k of res.kernels) console.log(`  ${k.ms.toFixed(4).padStart(8)}  ${k.calls.toFixed(1).padStart(10)}  ${k.name}`);
  }
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'case') oneCase(rest[0], Number(rest[1] ?? 20));
else if (mode === 'prims') prims((rest[0] ?? process.env.ORTHO_PROFILE_CASES ?? PRIM_CASES).split('|'));
else if (mode === 'breakdown' || mode === undefined) breakdown();
else {
  console.error(`unknown mode ${mode}: breakdown, case ID REPS, or prims [ID|ID...]`);
  process.exit(2);
}
