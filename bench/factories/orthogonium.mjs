// Factory for orthogonium-node (this package, CPU backend): a trial -> the
// hot closure that bench/child.mjs times. Built through the public API, as a
// user would (PRESETS[...].build, module classes), from the compiled dist/.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function load() {
  try {
    return require(path.join(root, 'dist', 'index.js'));
  } catch (e) {
    throw new Error(`cannot load orthogonium-node from dist/ (run \`npm run compile\` or \`npx cmake-js compile && npx tsc -p .\`): ${e.message}`);
  }
}

/** The raw binding, for the internal GEMM hook. */
export function binding() {
  return require('node-gyp-build')(root);
}

const CLASSES = {
  power_iteration: 'BatchedPowerIteration',
  bjorck: 'BatchedBjorckOrthogonalization',
  cholesky: 'BatchedCholeskyOrthogonalization',
  exponential: 'BatchedExponentialOrthogonalization',
  qr: 'BatchedQROrthogonalization',
  identity: 'BatchedIdentity',
};

/** randn / ||.||_F per matrix (spectral norm <= 1): see bench/trials.mjs. */
export function makeInput(api, shape, dtype, seed) {
  const t = api.Tensor.randn(shape, { dtype: 'float64', seed });
  const a = t.toTypedArray();
  t.dispose();
  const size = shape[shape.length - 2] * shape[shape.length - 1];
  for (let off = 0; off < a.length; off += size) {
    let s = 0;
    for (let i = off; i < off + size; i++) s += a[i] * a[i];
    const c = 1 / Math.sqrt(s);
    for (let i = off; i < off + size; i++) a[i] *= c;
  }
  return api.Tensor.from(dtype === 'float32' ? Float32Array.from(a) : a, shape, { dtype });
}

// Checks that a preset's factories carry the settings the anchors use, so
// that every implementation runs the same algorithm.
function checkPreset(api, name, modules) {
  const params = api.PRESETS[name];
  if (!params) throw new Error(`no preset '${name}'`);
  const parts = [params.spectralNormalizer, params.orthogonalizer];
  modules.forEach((spec, i) => {
    const f = parts[i];
    const cls = f.moduleClass ?? f;
    if (cls.name !== CLASSES[spec.kind]) throw new Error(`preset ${name}: module ${i} is ${cls.name}, trials say ${spec.kind}`);
    for (const [key, value] of Object.entries(spec)) {
      if (key === 'kind') continue;
      const have = f.defaults?.[key];
      if (have !== undefined && have !== value) throw new Error(`preset ${name}: ${key} is ${have}, trials say ${value}`);
    }
  });
}

function buildModule(api, spec, shape, requiresGrad) {
  const { kind, ...options } = spec;
  if (kind === 'l2normalize') return new api.L2Normalize({ requiresGrad });
  const Ctor = api[CLASSES[kind]];
  return new Ctor(shape, { ...options, requiresGrad, seed: 99 });
}

/** trial -> { fn, fnAsync?, dispose } */
export function create(trial) {
  const api = load();
  const { shape, dtype } = trial;
  const requiresGrad = trial.pass === 'backward';
  const build = () => {
    if (trial.group === 'preset') {
      checkPreset(api, trial.op, trial.spec.modules);
      return api.PRESETS[trial.op].build(shape, { requiresGrad, seed: 99 });
    }
    return buildModule(api, trial.spec, shape, requiresGrad);
  };
  const x = makeInput(api, shape, dtype, 1234);
  if (trial.pass.startsWith('async-x')) {
    // Several modules, each with its own input, forward() at once: the
    // promise resolves when all are done.
    const n = Number(trial.pass.slice('async-x'.length));
    const mods = Array.from({ length: n }, build);
    const xs = Array.from({ length: n }, (_, i) => makeInput(api, shape, dtype, 1234 + i));
    return {
      fnAsync: async () => {
        const ys = await Promise.all(mods.map((m, i) => m.forward(xs[i])));
        for (const y of ys) if (!xs.includes(y)) y.dispose();
      },
      // the same work, one call after another on the calling thread
      fn: () => {
        for (let i = 0; i < n; i++) {
          const y = mods[i].forwardSync(xs[i]);
          if (y !== xs[i]) y.dispose();
        }
      },
    };
  }
  const mod = build();
  if (trial.pass === 'backward') {
    const y = mod.forwardSync(x);
    const g = makeInput(api, y.shape, dtype, 4321);
    return {
      fn: () => {
        const dx = mod.backwardSync(g);
        if (dx !== g) dx.dispose();
      },
    };
  }
  return {
    fn: () => {
      const y = mod.forwardSync(x);
      if (y !== x) y.dispose(); // identity returns its input
    },
  };
}

/** The GEMM ceiling: seconds per call of the backend's batched GEMM. */
export function gemmCeiling(dtype, [batch, m, n, k], reps) {
  return Array.from(binding().benchBackendGemm(dtype, 'cpu', batch, m, n, k, reps));
}

export function versions() {
  const api = load();
  const cpu = api.backends().find((b) => b.name === 'cpu');
  return {
    'orthogonium-node': require(path.join(root, 'package.json')).version,
    cpu: cpu?.detail,
    threads: cpu?.threads,
    // the CPU kernels' x86-64 level (ORTHO_CPU_LEVEL forces one) and the CPU's own
    cpuKernels: cpu?.level,
    cpuLevel: cpu?.cpuLevel,
  };
}
