// `orthogonium demo` (`npm run demo`): every preset on seeded random batched
// weights, with the time per forward and how orthogonal the results are.
import { Tensor } from '../tensor';
import { type OptionSpecs, choice, integer, parseCommand } from './args';
import { type Io, deviceOption } from './common';
import { PRESET_NAMES, measureTensor, orientation, recipeFor, resolveDevice, transposeMatrices } from './compute';
import { HELP } from './help';
import { formatTable, sci, sig } from './table';
import type { TensorPlan } from './weights';

const OPTIONS = {
  device: { type: 'string' },
  dtype: { type: 'string' },
  repeat: { type: 'string' },
  seed: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies OptionSpecs;

/** The demo's inputs: shape, how the values are made, and the recipe text for the table. */
interface DemoCase {
  readonly shape: readonly [number, number, number];
  /** 'near-identity': I + G/(4√n), condition number about 2; 'gaussian': G (a square G has tiny σmin). */
  readonly input: 'near-identity' | 'gaussian';
}

const CASES: readonly DemoCase[] = [
  { shape: [8, 64, 64], input: 'near-identity' },
  { shape: [8, 64, 64], input: 'gaussian' },
  { shape: [4, 128, 32], input: 'gaussian' },
  { shape: [4, 32, 128], input: 'gaussian' },
];

interface DemoRow {
  shape: readonly number[];
  input: string;
  /** Largest condition number σmax/σmin of the input's matrices. */
  inputCondition: number;
  preset: string;
  /** Median wall time of one forward over the batch, in milliseconds. */
  ms: number;
  maxOrthogonalityError: number;
  sigmaMin: number;
  sigmaMax: number;
  /** Cholesky presets on tall matrices: computed on the transpose (see docs/cli.md). */
  transposed: boolean;
}

function makeInput(c: DemoCase, seed: number, dtype: 'float32' | 'float64'): Float32Array | Float64Array {
  const g = Tensor.randn(c.shape, { dtype, seed });
  const values = g.toTypedArray();
  g.dispose();
  if (c.input === 'near-identity') {
    const [b, m, n] = c.shape;
    const scale = 1 / (4 * Math.sqrt(n));
    for (let i = 0; i < values.length; i++) values[i] *= scale;
    for (let k = 0; k < b; k++) for (let i = 0; i < Math.min(m, n); i++) values[k * m * n + i * n + i] += 1;
  }
  return values;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function demoCommand(argv: readonly string[], io: Io): Promise<number> {
  const cmd = 'demo';
  const { values: v } = parseCommand(cmd, argv, OPTIONS, { min: 0, max: 0, names: '' });
  if (v.help) {
    io.stdout.write(HELP.demo);
    return 0;
  }
  const device = resolveDevice(deviceOption(cmd, v.device));
  const dtype = choice(cmd, 'dtype', v.dtype, ['float32', 'float64'] as const, 'float32');
  const repeat = integer(cmd, 'repeat', v.repeat, 5, 1);
  const seed = integer(cmd, 'seed', v.seed, 0, 0);

  const rows: DemoRow[] = [];
  for (const [ci, c] of CASES.entries()) {
    const [batch, m, n] = c.shape;
    const plan: TensorPlan & { weight: true } = { weight: true, matrixShape: c.shape, batch, rows: m, cols: n };
    const values = makeInput(c, seed + ci, dtype);
    const original = Tensor.from(values, c.shape, { device });
    const inputStats = await measureTensor(original, plan);
    original.dispose();
    const inputCondition = inputStats.reduce((k, s) => Math.max(k, s.sigmaMin > 0 ? s.sigmaMax / s.sigmaMin : Infinity), 0);
    for (const preset of PRESET_NAMES) {
      const recipe = recipeFor(preset);
      const { flip, shape } = orientation(recipe, plan);
      const x = Tensor.from(flip ? transposeMatrices(values, batch, m, n) : values, shape, { device });
      const module = recipe.params.build(shape, { seed });
      // The first forward is the one measured: a fresh module, as at the first
      // training step (power iteration from its seeded start).
      const first = await module.forward(x);
      const stats = await measureTensor(first, plan);
      first.dispose();
      const times: number[] = [];
      for (let r = 0; r < repeat; r++) {
        const t0 = process.hrtime.bigint();
        const y = await module.forward(x);
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        y.dispose();
      }
      module.dispose();
      x.dispose();
      rows.push({
        shape: c.shape,
        input: c.input,
        inputCondition,
        preset,
        ms: median(times),
        maxOrthogonalityError: stats.reduce((e, s) => Math.max(e, s.orthogonalityError), 0),
        sigmaMin: stats.reduce((e, s) => Math.min(e, s.sigmaMin), Infinity),
        sigmaMax: stats.reduce((e, s) => Math.max(e, s.sigmaMax), 0),
        transposed: flip,
      });
    }
  }

  if (v.json) {
    io.stdout.write(JSON.stringify({ device, dtype, repeat, seed, rows }, null, 2) + '\n');
    return 0;
  }
  io.stdout.write(`orthogonium demo: every preset on seeded random weights, ${dtype} on ${device} (time: median of ${repeat} forwards)\n\n`);
  io.stdout.write(
    formatTable(
      [
        { title: 'shape' },
        { title: 'input' },
        { title: 'κ(input)', right: true },
        { title: 'preset' },
        { title: 'time (ms)', right: true },
        { title: 'max orth. error', right: true },
        { title: 'σmin', right: true },
        { title: 'σmax', right: true },
      ],
      rows.map((r) => [
        `[${r.shape.join(', ')}]`,
        r.input,
        sig(r.inputCondition),
        r.preset + (r.transposed ? ' *' : ''),
        r.ms.toFixed(3),
        sci(r.maxOrthogonalityError),
        sig(r.sigmaMin, 6),
        sig(r.sigmaMax, 6),
      ]),
    ),
  );
  io.stdout.write(
    [
      '',
      'orth. error: ‖WᵀW − I‖_F per matrix (‖WWᵀ − I‖_F for wide W), the largest of the batch; σ over the whole batch.',
      'near-identity: I + G/(4√n), κ about 2. gaussian: G with N(0, 1) entries; a square G is ill-conditioned (tiny σmin),',
      'and 12 Björck iterations (default, bjorck-pass-through) do not converge there: that is orthogonium\'s behaviour.',
      'exp maps to an orthogonal matrix whatever the input (the exponential of its skew-symmetric part).',
      'polar (not orthogonium\'s; the command line\'s default) is the orthogonal polar factor UVᵀ, the nearest orthogonal',
      'matrix, iterated until ‖WᵀW − I‖_F/√k is at the dtype\'s tolerance: it converges on every input here.',
      rows.some((r) => r.transposed) ? '* Cholesky on tall matrices runs on the transpose (rows cannot be orthonormal), as the command line does.\n' : '',
    ].join('\n'),
  );
  return 0;
}
