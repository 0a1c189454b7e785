// Where the time of a GPU case goes (a tool for the device run, not a target):
//   node bench/gpu/profile.mjs breakdown        one table: each module alone, forward and backward
//   node bench/gpu/profile.mjs case ID REPS     runs one compare.mjs-style case REPS times (for nsys)
// IDs: "<preset> <forward|backward> BxMxN", e.g. "default backward 4096x32x32".
import {
  BatchedBjorckOrthogonalization, BatchedCholeskyOrthogonalization, BatchedIdentity,
  BatchedPowerIteration, BatchedQROrthogonalization, PRESETS, Tensor,
} from '../../index.mjs';
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
  const ts = [];
  for (let i = 0; i < reps; i++) { const t0 = performance.now(); fn().dispose(); ts.push(performance.now() - t0); }
  console.log(`${id}: median ${median(ts).toFixed(3)} ms over ${reps}`);
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'case') oneCase(rest[0], Number(rest[1] ?? 20));
else breakdown();
