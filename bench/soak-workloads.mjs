// Workloads of the memory soak (bench/soak.mjs and test/75.soak.test.mjs):
// each is a function of the call index that does one unit of work, the way
// a server processing weights all day would, and leaves nothing behind but
// what the GC or dispose() frees. Shared so that the test asserts on the
// very loop the benchmark plots.
//
//   const step = await makeWorkload(ortho, 'mix', { root });  // then: await step(i)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

/** The workloads, with what one call does. */
export const WORKLOADS = {
  mix: 'a server-like mix: every preset, shapes from 3x17x9 to 200x100, float32 and float64, sync and async, forward and backward, modules built and disposed or dropped, tensors disposed or dropped',
  small: 'the mix on its small shapes only (3x17x9 to 64x48): more calls per second, the workload of the soak test in the suite',
  clone: 'clone() of a [4, 32, 32] float32 tensor, disposed',
  randn: 'Tensor.randn([4, 32, 32]), disposed',
  forward: 'DEFAULT_ORTHO_PARAMS forwardSync on [4, 32, 32] float32, the output disposed every other call and left to the GC otherwise',
  modules: 'a module built, run once and disposed or dropped, with tensors of several sizes made and dropped',
  workers: 'a worker thread started, building tensors and modules, and stopped (one call = one worker)',
  cli: 'the command line (orthogonalize, then report) on a safetensors file, in this process',
};

// Deterministic pseudo-random choices, so that every run is the same run.
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

const MIX_SHAPES = [
  [3, 17, 9],
  [2, 9, 17],
  [8, 16, 16],
  [4, 32, 32],
  [64, 48],
  [16, 32, 24],
  [200, 100],
  [100, 200],
];

/**
 * The function running one call of workload `name` (a key of WORKLOADS).
 * `root` is the package's root (for the command line's files); `dir` the
 * folder the command line's files go in (default: the system's temporary
 * folder; each run of `orthogonium orthogonalize` syncs its output to
 * disk, which a memory file system such as /dev/shm makes free).
 */
export async function makeWorkload(ortho, name, { root, dir } = {}) {
  const { Tensor } = ortho;
  switch (name) {
    case 'clone': {
      const x = Tensor.randn([4, 32, 32], { seed: 1 });
      return () => x.clone().dispose();
    }
    case 'randn':
      return () => Tensor.randn([4, 32, 32]).dispose();
    case 'forward': {
      const x = Tensor.randn([4, 32, 32], { seed: 1 });
      const m = ortho.DEFAULT_ORTHO_PARAMS.build([4, 32, 32], { seed: 1 });
      return (i) => {
        const y = m.forwardSync(x);
        if (i % 2) y.dispose();
      };
    }
    case 'mix':
      return mixWorkload(ortho, MIX_SHAPES);
    case 'small':
      return mixWorkload(ortho, MIX_SHAPES.slice(0, 5));
    case 'modules': {
      const presets = Object.values(ortho.PRESETS);
      return (i) => {
        const shape = MIX_SHAPES[i % MIX_SHAPES.length];
        const m = presets[i % presets.length].build(shape, { seed: i });
        const x = Tensor.randn(shape, { seed: i, dtype: i % 3 ? 'float32' : 'float64' });
        try {
          m.forwardSync(x);  // dropped: the GC frees it
        } catch (e) {
          // Cholesky refuses some float32 [200, 100] draws (ERR_ORTHO_NOT_POSITIVE_DEFINITE).
          if (!e.code?.startsWith('ERR_ORTHO_')) throw e;
        }
        for (const s of [[2], [5, 7], [64, 64], [3, 256, 256]]) Tensor.zeros(s);
        if (i % 2) {
          m.dispose();
          x.dispose();
        }
      };
    }
    case 'workers':
      return workerWorkload();
    case 'cli':
      return cliWorkload(root, dir);
    default:
      throw new Error(`unknown workload '${name}' (${Object.keys(WORKLOADS).join(', ')})`);
  }
}

function mixWorkload(ortho, shapes) {
  const { Tensor } = ortho;
  const next = rng(7);
  const pick = (a) => a[Math.floor(next() * a.length)];
  const presets = Object.values(ortho.PRESETS);
  // A few long-lived modules, as a server would keep, replaced now and then.
  const slots = [];
  const slot = (i) => {
    const k = i % 8;
    if (!slots[k] || next() < 0.05) {
      const old = slots[k];
      if (old && next() < 0.5) old.module.dispose();  // otherwise dropped: the GC frees it
      const shape = pick(shapes);
      const requiresGrad = next() < 0.4;
      // A module's state takes its dtype from its first input: one dtype per module.
      const dtype = next() < 0.7 ? 'float32' : 'float64';
      slots[k] = { shape, requiresGrad, dtype, module: pick(presets).build(shape, { requiresGrad, seed: i }) };
    }
    return slots[k];
  };
  return async (i) => {
    const { shape, requiresGrad, module, dtype: own } = slot(i);
    // Now and then the other dtype: refused with ERR_ORTHO_DTYPE (the error path).
    const dtype = next() < 0.02 ? (own === 'float32' ? 'float64' : 'float32') : own;
    const x = Tensor.randn(shape, { dtype, seed: i });
    const sync = next() < 0.5;
    let y;
    try {
      y = sync ? module.forwardSync(x) : await module.forward(x);
      if (requiresGrad) {
        const g = Tensor.randn(shape, { dtype, seed: i + 1 });
        const gx = sync ? module.backwardSync(g) : await module.backward(g);
        if (next() < 0.5) gx.dispose();
        g.dispose();
      }
    } catch (e) {
      // The other dtype's ERR_ORTHO_DTYPE (and any caller's error the mix
      // makes): the soak is about memory, not about them.
      if (!e.code?.startsWith('ERR_ORTHO_')) throw e;
    }
    if (y && next() < 0.5) y.dispose();
    if (next() < 0.5) x.dispose();
    if (i % 50 === 0) {
      // An occasional diagnostic and a larger tensor, as a server's status page might.
      const w = Tensor.randn([64, 64], { dtype });
      ortho.orthogonalityErrorSync(w);
      w.dispose();
    }
  };
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.index).then(async (ortho) => {
  const { Tensor } = ortho;
  for (let k = 0; k < 5; k++) {
    const x = Tensor.randn([4, 16, 16], { seed: k });
    const m = ortho.DEFAULT_ORTHO_PARAMS.build([4, 16, 16], { seed: k });
    const y = k % 2 ? m.forwardSync(x) : await m.forward(x);
    if (k % 2) { y.dispose(); m.dispose(); }
  }
  parentPort.postMessage('done');
});
`;

function workerWorkload() {
  const index = new URL('../index.mjs', import.meta.url).href;
  return (i) =>
    new Promise((resolve, reject) => {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { index } });
      w.once('error', reject);
      w.once('message', () => {
        // Half stop on their own, half are terminated as soon as they answer.
        if (i % 2) void w.terminate();
      });
      w.once('exit', () => resolve());
    });
}

async function cliWorkload(root, parent = os.tmpdir()) {
  const { main } = await import(path.join(root, 'dist/cli/main.js'));
  const { encodeSafetensorsHeader } = await import(path.join(root, 'dist/io/safetensors.js'));
  const dir = fs.mkdtempSync(path.join(parent, 'orthogonium-soak-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const input = path.join(dir, 'in.safetensors');
  const specs = [
    { name: 'a.weight', dtype: 'F32', shape: [64, 32] },
    { name: 'b.weight', dtype: 'F32', shape: [4, 24, 24] },
    { name: 'c.bias', dtype: 'F32', shape: [32] },
  ];
  const next = rng(3);
  const data = specs.map((s) => Buffer.from(new Float32Array(s.shape.reduce((a, b) => a * b, 1)).map(() => next() - 0.5).buffer));
  fs.writeFileSync(input, Buffer.concat([encodeSafetensorsHeader(specs).bytes, ...data]));
  const sink = { write: () => true };
  const io = { stdout: sink, stderr: sink, env: {} };
  return async (i) => {
    const out = path.join(dir, `out${i % 2}.safetensors`);
    const code = await main(['orthogonalize', input, '-o', out, '--force', '--params', i % 2 ? 'qr' : 'default'], io);
    if (code !== 0) throw new Error(`orthogonium orthogonalize exited with ${code}`);
    const code2 = await main(['report', out], io);
    if (code2 !== 0) throw new Error(`orthogonium report exited with ${code2}`);
  };
}
