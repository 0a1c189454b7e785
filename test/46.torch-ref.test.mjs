// Every preset against PyTorch: bench/gpu/torch_ref.py, the PyTorch code the
// GPU comparison (bench/gpu/compare.mjs) times ours against, computes on the
// CPU in float64, with autograd for the gradient, the outputs and input
// gradients that our presets compute on the device under test. Two things
// are proven at once: the benchmark times the same functions on both sides,
// and our forward and hand-written backward agree with an independent
// implementation (PyTorch's operators and autograd). The power iteration
// starts from the same u on both sides (its first step recomputes v from
// u), and its own output is compared too: the presets that end in QR or in
// a converged Björck hardly depend on its scale.
//
// PyTorch is found as ORTHO_TORCH_PYTHON, else python3, else /usr/bin/python3
// (Debian's python3-torch, which .ci/run installs); without one these tests
// are pending and say why.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEVICE, Tensor, expect, expectClose, ortho, rng, shapeName, wellConditionedTensor } from './00.setup.mjs';

const { PRESETS, BatchedPowerIteration } = ortho;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const script = path.join(root, 'bench/gpu/torch_ref.py');

/** A python that imports torch, or the reason there is none. */
function findTorch() {
  const tried = [];
  for (const py of [process.env.ORTHO_TORCH_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean)) {
    // linalg.solve_triangular (torch >= 1.11) is the newest call torch_ref.py makes.
    const r = spawnSync(py, ['-c', 'import torch; torch.linalg.solve_triangular; print(torch.__version__)'], {
      encoding: 'utf8',
      timeout: 120000,
    });
    if (r.status === 0) return { python: py, version: r.stdout.trim() };
    tried.push(`${py}: ${r.error?.message ?? (r.stderr.trim().split('\n').pop() || `exit ${r.status}`)}`);
  }
  return { reason: tried.join('; ') };
}

/** torch_ref.py's answers to `cases` (kind "values"), in float64 on the CPU, by case id. One process for all (importing torch takes seconds). */
function torchValues(python, cases) {
  const r = spawnSync(python, [script], {
    input: JSON.stringify(cases),
    encoding: 'utf8',
    env: { ...process.env, ORTHO_TORCH_DEVICE: 'cpu' },
    maxBuffer: 64 << 20,
    timeout: 300000,
  });
  if (r.status !== 0) throw new Error(`torch_ref.py exited ${r.status ?? r.signal}: ${r.stderr.slice(-2000)}`);
  return new Map(JSON.parse(r.stdout).results.map((x) => [x.case, x]));
}

// Tall, square and wide, with and without a batch dimension; every preset
// takes every shape (QR and Cholesky transpose or not as orthogonium does).
const SHAPES = [[2, 7, 5], [3, 6, 6], [2, 4, 9], [1, 12, 12]];
// The suite's float64 parity tolerance (the CPU against the GPU).
const TOL = 1e-10;

describe('presets against PyTorch (bench/gpu/torch_ref.py, float64, autograd)', function () {
  this.timeout(600000);
  let torch;
  let theirs; // torch_ref.py's answers by case id
  const ours = new Map(); // { y, dx } computed on DEVICE, by case id
  const cases = []; // what torch_ref.py is asked

  before(function () {
    torch = findTorch();
    if (!torch.python) {
      console.log(`      (pending: no python with torch: ${torch.reason})`);
      this.skip();
    }
    const r = rng(46);
    for (const preset of Object.keys(PRESETS)) {
      for (const shape of SHAPES) {
        const id = `${preset} ${shapeName(shape)}`;
        const [m, n] = shape.slice(-2);
        const batch = shape.slice(0, -2);
        const x = wellConditionedTensor(shape, { seed: cases.length + 1 });
        const g = Tensor.from(Float64Array.from({ length: x.size }, () => r.normal()), shape, { device: DEVICE });
        const mod = PRESETS[preset].build(shape, { requiresGrad: true });
        const c = { id, preset, shape, kind: 'values', dtype: 'float64' };
        let sn = null;
        const sp = mod.spectralNormalizer;
        if (sp instanceof BatchedPowerIteration) {
          const u = Tensor.from(Float64Array.from({ length: x.size / n }, () => r.normal()), [...batch, m, 1], { device: DEVICE });
          const v = Tensor.from(Float64Array.from({ length: x.size / m }, () => r.normal()), [...batch, n, 1], { device: DEVICE });
          const alone = new BatchedPowerIteration(shape, { powerItNiter: sp.powerItNiter, eps: sp.eps });
          sp.u = alone.u = u;
          sp.v = alone.v = v;
          sn = alone.forwardSync(x).toTypedArray();
          Object.assign(c, { u: Array.from(u.toTypedArray()), v: Array.from(v.toTypedArray()) });
        }
        const y = mod.forwardSync(x).toTypedArray();
        const dx = mod.backwardSync(g).toTypedArray();
        ours.set(id, { y, dx, sn });
        cases.push({ ...c, input: Array.from(x.toTypedArray()), grad: Array.from(g.toTypedArray()) });
      }
    }
    theirs = torchValues(torch.python, cases);
  });

  /** torch_ref.py's answer to case `id`, or the error it reported. */
  function answer(id) {
    const x = theirs.get(id);
    if (!x || x.error) throw new Error(`torch_ref.py, case ${id}: ${x?.error ?? 'no result'}`);
    return x;
  }

  it('torch_ref.py answers every case: each preset at each shape', function () {
    // If a preset were added without its PyTorch counterpart, the GPU
    // comparison would print an error row for it instead of a ratio.
    expect([...theirs.keys()]).to.deep.equal(cases.map((c) => c.id));
    for (const c of cases) expect(answer(c.id)).to.include.keys(c.u ? ['y', 'dx', 'sn'] : ['y', 'dx']);
  });

  for (const preset of Object.keys(PRESETS)) {
    it(`preset ${preset}: output, input gradient (and power iteration) as PyTorch's, ${SHAPES.map(shapeName).join(' ')}`, function () {
      for (const c of cases.filter((x) => x.preset === preset)) {
        const t = answer(c.id), o = ours.get(c.id);
        expectClose(o.y, Float64Array.from(t.y), TOL, `${c.id} output`);
        expectClose(o.dx, Float64Array.from(t.dx), TOL, `${c.id} input gradient`);
        if (o.sn) expectClose(o.sn, Float64Array.from(t.sn), TOL, `${c.id} power iteration output`);
      }
    });
  }
});
