// `orthogonium orthogonalize <input> -o <output>`: writes a copy of a tensor
// file whose weights are orthogonalized, one tensor at a time, through a
// temporary file that is renamed into place only when complete.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { ErrorCodes } from '../errors';
import { encodeFloats } from '../io/dtype';
import { AtomicOutput, copyRange, sameFile, writeFully } from '../io/files';
import { encodeNpyHeader } from '../io/npy';
import { type StoredTensor, type TensorFile, openTensorFile, readTensorBytes, tensorValues } from '../io/tensor-file';
import { type OptionSpecs, UsageError, choice, integer, parseCommand, positiveNumber } from './args';
import { COMPUTE_OPTIONS, type Io, SELECT_OPTIONS, deviceOption, dtypeOption, weightRule } from './common';
import { DEFAULT_POWER_ITERS, DEFAULT_PRESET, PRESET_NAMES, type Recipe, orthogonalizeMatrices, recipeFor, resolveDevice } from './compute';
import { HELP } from './help';
import { Progress, formatBytes, formatDuration } from './progress';
import { formatTable } from './table';
import { PRECISIONS } from '../validate';
import { type TensorPlan, planTensor, showShape } from './weights';

const OPTIONS = {
  output: { type: 'string', short: 'o' },
  params: { type: 'string', short: 'p' },
  ...COMPUTE_OPTIONS,
  ...SELECT_OPTIONS,
  'power-iters': { type: 'string' },
  tol: { type: 'string' },
  seed: { type: 'string' },
  precision: { type: 'string' },
  force: { type: 'boolean', short: 'f' },
  'dry-run': { type: 'boolean', short: 'n' },
  quiet: { type: 'boolean', short: 'q' },
  json: { type: 'boolean' },
} as const satisfies OptionSpecs;

/**
 * Test hook: with ORTHOGONIUM_TEST_PAUSE_AFTER=k in the environment, the run
 * stops after writing k tensors to its temporary file, says so on stderr and
 * waits until it is killed, so that tests can interrupt it at a known point.
 */
export const PAUSE_ENV = 'ORTHOGONIUM_TEST_PAUSE_AFTER';

interface TensorOutcome {
  name: string;
  dtype: string;
  shape: readonly number[];
  action: 'orthogonalize' | 'copy';
  matrix?: readonly number[];
  computeDtype?: string;
  reason?: string;
  ms?: number;
}

export async function orthogonalizeCommand(argv: readonly string[], io: Io): Promise<number> {
  const cmd = 'orthogonalize';
  const { values: v, positionals } = parseCommand(cmd, argv, OPTIONS, { min: 1, max: 1, names: 'the input file' });
  if (v.help) {
    io.stdout.write(HELP.orthogonalize);
    return 0;
  }
  const input = positionals[0];
  const output = v.output;
  if (!v['dry-run'] && output === undefined) throw new UsageError('missing -o/--output (where to write the result)', cmd);
  const preset = choice(cmd, 'params', v.params, PRESET_NAMES, DEFAULT_PRESET);
  const rule = weightRule(cmd, v);
  const deviceArg = deviceOption(cmd, v.device);
  const dtypeFor = dtypeOption(cmd, v.dtype, 'auto');
  const powerIters = integer(cmd, 'power-iters', v['power-iters'], DEFAULT_POWER_ITERS, 1);
  const seed = integer(cmd, 'seed', v.seed, 0, 0);
  const tol = v.tol === undefined ? undefined : positiveNumber(cmd, 'tol', v.tol);
  const precision = choice(cmd, 'precision', v.precision, PRECISIONS, 'fp32');
  const recipe = recipeFor(preset, powerIters, tol, precision);
  if (precision !== 'fp32' && !recipe.takesPrecision)
    throw new UsageError(
      `--precision ${precision} needs a preset that iterates matrix products (polar, default, test, bjorck-pass-through); --params ${preset} does not`,
      cmd,
    );
  if (v['power-iters'] !== undefined && recipe.powerIters === null && !v.quiet)
    io.stderr.write(`note: --power-iters has no effect with --params ${preset} (it has no power iteration)\n`);
  if (tol !== undefined && recipe.tol === null && !v.quiet)
    io.stderr.write(`note: --tol has no effect with --params ${preset} (only polar stops by tolerance)\n`);
  if (output !== undefined && !v['dry-run']) await checkOutputPath(input, output, v.force === true);

  const device = resolveDevice(deviceArg);
  const file = await openTensorFile(input);
  try {
    const plans = file.tensors.map((t) => planTensor(t, rule));
    const outcomes: TensorOutcome[] = file.tensors.map((t, i) => {
      const p = plans[i];
      const base = { name: t.name, dtype: t.dtype.name, shape: t.shape };
      return p.weight
        ? { ...base, action: 'orthogonalize', matrix: p.matrixShape, computeDtype: dtypeFor(t.dtype) }
        : { ...base, action: 'copy', reason: p.reason };
    });
    const selected = outcomes.filter((o) => o.action === 'orthogonalize').length;
    const summary = {
      input,
      output: output ?? null,
      format: file.format,
      preset,
      device,
      powerIters: recipe.powerIters,
      tol: recipe.tol ?? null,
      precision,
      seed,
      tensors: outcomes,
    };
    if (v['dry-run']) {
      if (v.json) io.stdout.write(JSON.stringify({ ...summary, dryRun: true }, null, 2) + '\n');
      else io.stdout.write(planTable(outcomes) + `${selected} of ${outcomes.length} tensors would be orthogonalized (dry run: nothing written)\n`);
      return 0;
    }
    const started = Date.now();
    await writeOutput(file, output!, plans, outcomes, { recipe, device, seed, force: v.force === true }, io);
    const seconds = (Date.now() - started) / 1000;
    if (v.json) io.stdout.write(JSON.stringify({ ...summary, seconds }, null, 2) + '\n');
    else if (!v.quiet) {
      const bytes = file.tensors.reduce((s, t, i) => s + (plans[i].weight ? t.byteLength : 0), 0);
      io.stdout.write(
        `orthogonalized ${selected} of ${outcomes.length} tensors (${formatBytes(bytes)}) with --params ${preset} on ${device}; ` +
          `copied the rest byte for byte; wrote ${output} in ${formatDuration(seconds)}\n`,
      );
    }
    return 0;
  } finally {
    await file.fh.close();
  }
}

/** Refuses an output that is the input (by path, symlink or hard link), a directory, or an existing file without --force. */
async function checkOutputPath(input: string, output: string, force: boolean): Promise<void> {
  const cmd = 'orthogonalize';
  if (path.resolve(input) === path.resolve(output) || (await sameFile(input, output)))
    throw new UsageError(`the output must not be the input: '${output}' is '${input}'`, cmd);
  const st = await fsp.stat(output).catch(() => null);
  if (st?.isDirectory()) throw new UsageError(`the output '${output}' is a directory; give a file name`, cmd);
  if (!force && (st || (await fsp.lstat(output).catch(() => null))))
    throw new UsageError(`the output '${output}' exists; pass --force to replace it`, cmd);
}

function planTable(outcomes: readonly TensorOutcome[]): string {
  return formatTable(
    [{ title: 'tensor' }, { title: 'dtype' }, { title: 'shape' }, { title: 'action' }],
    outcomes.map((o) => [
      o.name,
      o.dtype,
      showShape(o.shape),
      o.action === 'orthogonalize'
        ? `orthogonalize as ${showShape(o.matrix!)}${o.matrix!.length === 2 && o.shape.length === 2 ? '' : ', then reshape back'} (${o.computeDtype})`
        : `copy: ${o.reason}`,
    ]),
  );
}

/** Writes the output file: the header, then each tensor in data order, orthogonalized or copied. */
async function writeOutput(
  file: TensorFile,
  output: string,
  plans: readonly TensorPlan[],
  outcomes: TensorOutcome[],
  opts: { recipe: Recipe; device: string; seed: number; force: boolean },
  io: Io,
): Promise<void> {
  const pauseAfter = io.env[PAUSE_ENV] === undefined ? -1 : Number(io.env[PAUSE_ENV]);
  const out = await AtomicOutput.create(output, { overwrite: opts.force });
  const totalBytes = file.tensors.reduce((s, t) => s + t.byteLength, 0);
  const progress = new Progress(io.stderr, file.tensors.length, totalBytes);
  try {
    // The header is the input's, byte for byte (so __metadata__, key order
    // and padding are kept), except for a Fortran-ordered .npy array that is
    // processed: its result is written in C order under a new header.
    const reorder = file.npy?.fortranOrder === true && plans[0].weight;
    const header = reorder ? encodeNpyHeader(file.npy!.descr, file.npy!.shape, false) : null;
    if (header) await writeFully(out.fh, header, 0);
    else await copyRange(file.fh, file.path, 0, out.fh, 0, file.headerLength);
    const shift = header ? header.length - file.headerLength : 0;

    for (const [i, t] of file.tensors.entries()) {
      const plan = plans[i];
      const to = t.offset + shift;
      if (plan.weight) {
        const started = Date.now();
        const bytes = await orthogonalizeTensor(file, t, plan, outcomes[i].computeDtype as 'float32' | 'float64', opts);
        await writeFully(out.fh, bytes, to);
        outcomes[i].ms = Date.now() - started;
        progress.tensorDone(t.byteLength);
      } else {
        await copyRange(file.fh, file.path, t.offset, out.fh, to, t.byteLength, (n) => progress.addBytes(n));
        progress.tensorDone();
      }
      if (i + 1 === pauseAfter) await pauseForTests(io, i + 1, out.tempPath);
    }
    progress.clear();
    await out.commit();
  } catch (e) {
    progress.clear();
    await out.abort();
    if ((e as NodeJS.ErrnoException).code === 'EEXIST' && (e as NodeJS.ErrnoException).path === output)
      throw new UsageError(`the output '${output}' appeared while this run was going; pass --force to replace it`, 'orthogonalize');
    throw e;
  }
}

/** Reads, orthogonalizes and re-encodes one weight; errors name the tensor. */
async function orthogonalizeTensor(
  file: TensorFile,
  t: StoredTensor,
  plan: TensorPlan & { weight: true },
  dtype: 'float32' | 'float64',
  opts: { recipe: Recipe; device: string; seed: number },
): Promise<Uint8Array> {
  const bytes = await readTensorBytes(file, t);
  try {
    const result = await orthogonalizeMatrices(tensorValues(t, bytes, dtype), plan, opts.recipe, opts);
    encodeFloats(result, t.dtype, bytes);
    return bytes;
  } catch (e) {
    const err = e as Error & { code?: string };
    err.message = `${file.path}: tensor ${JSON.stringify(t.name)} (${t.dtype.name} ${showShape(t.shape)} as ${showShape(plan.matrixShape)}): ${err.message}`;
    if (err.code === ErrorCodes.RANK_DEFICIENT)
      err.message += ` (from the command line: leave the tensor out with --exclude, loosen --tol, or pick another --params)`;
    throw err;
  }
}

function pauseForTests(io: Io, done: number, tempPath: string): Promise<never> {
  io.stderr.write(`orthogonium: test hook ${PAUSE_ENV}: paused after ${done} tensor(s); temporary file ${tempPath}\n`);
  // Keeps the process alive until a signal ends it.
  setInterval(() => undefined, 1 << 30);
  return new Promise<never>(() => undefined);
}
