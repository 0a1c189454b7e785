// `orthogonium report <file>`: per tensor, shape, dtype and, for weights,
// σmin, σmax, orthogonality error and stable rank.
import { ErrorCodes } from '../errors';
import { openTensorFile, readTensorBytes, tensorValues } from '../io/tensor-file';
import { type OptionSpecs, parseCommand, positiveNumber } from './args';
import { COMPUTE_OPTIONS, type Io, SELECT_OPTIONS, deviceOption, dtypeOption, weightRule } from './common';
import { type MatrixStats, measureMatrices, resolveDevice } from './compute';
import { HELP } from './help';
import { Progress } from './progress';
import { type Column, formatTable, sci, sig } from './table';
import { planTensor, showShape } from './weights';

const OPTIONS = {
  ...COMPUTE_OPTIONS,
  ...SELECT_OPTIONS,
  json: { type: 'boolean' },
  check: { type: 'string' },
} as const satisfies OptionSpecs;

interface TensorReport {
  name: string;
  dtype: string;
  shape: readonly number[];
  /** The matrix view, for weights. */
  matrix: readonly number[] | null;
  /** Why the tensor is not measured. */
  skipped?: string;
  /** Over the batch: min σmin, max σmax, max error, min stable rank. Null when the values are not finite. */
  sigmaMin?: number | null;
  sigmaMax?: number | null;
  orthogonalityError?: number | null;
  stableRank?: number | null;
  nonFinite?: boolean;
  /** Each matrix's statistics, when the tensor holds more than one. */
  perMatrix?: MatrixStats[];
}

export async function reportCommand(argv: readonly string[], io: Io): Promise<number> {
  const cmd = 'report';
  const { values: v, positionals } = parseCommand(cmd, argv, OPTIONS, { min: 1, max: 1, names: 'the file to report on' });
  if (v.help) {
    io.stdout.write(HELP.report);
    return 0;
  }
  const rule = weightRule(cmd, v);
  const device = resolveDevice(deviceOption(cmd, v.device));
  const dtypeFor = dtypeOption(cmd, v.dtype, 'float64');
  const tolerance = v.check === undefined ? null : positiveNumber(cmd, 'check', v.check);

  const file = await openTensorFile(positionals[0]);
  const reports: TensorReport[] = [];
  const progress = new Progress(io.stderr, file.tensors.length, file.tensors.reduce((s, t) => s + t.byteLength, 0));
  try {
    for (const t of file.tensors) {
      const plan = planTensor(t, rule);
      const r: TensorReport = { name: t.name, dtype: t.dtype.name, shape: t.shape, matrix: plan.weight ? plan.matrixShape : null };
      if (!plan.weight) {
        r.skipped = plan.reason;
      } else {
        try {
          const stats = await measureMatrices(tensorValues(t, await readTensorBytes(file, t), dtypeFor(t.dtype)), plan, device);
          r.sigmaMin = stats.reduce((m, s) => Math.min(m, s.sigmaMin), Infinity);
          r.sigmaMax = stats.reduce((m, s) => Math.max(m, s.sigmaMax), 0);
          r.orthogonalityError = stats.reduce((m, s) => Math.max(m, s.orthogonalityError), 0);
          r.stableRank = stats.reduce((m, s) => Math.min(m, s.stableRank), Infinity);
          if (stats.length > 1) r.perMatrix = stats;
        } catch (e) {
          if ((e as { code?: string }).code !== ErrorCodes.NON_FINITE) {
            (e as Error).message = `${file.path}: tensor ${JSON.stringify(t.name)}: ${(e as Error).message}`;
            throw e;
          }
          r.nonFinite = true;
          r.sigmaMin = r.sigmaMax = r.orthogonalityError = r.stableRank = null;
        }
      }
      reports.push(r);
      progress.tensorDone(t.byteLength);
    }
  } finally {
    progress.clear();
    await file.fh.close();
  }

  const measured = reports.filter((r) => r.matrix);
  const failing = tolerance === null ? [] : measured.filter((r) => r.nonFinite || r.orthogonalityError! > tolerance);
  if (v.json) {
    const metadata = file.metadata ? Object.fromEntries(file.metadata) : null;
    const maxError = measured.reduce((m, r) => (r.orthogonalityError == null ? m : Math.max(m, r.orthogonalityError)), 0);
    const summary = { tensors: reports.length, measured: measured.length, maxOrthogonalityError: measured.length ? maxError : null };
    const check = tolerance === null ? null : { tolerance, passed: failing.length === 0, failing: failing.map((r) => r.name) };
    io.stdout.write(JSON.stringify({ file: file.path, format: file.format, metadata, tensors: reports, summary, check }, null, 2) + '\n');
  } else {
    io.stdout.write(reportTable(reports));
    io.stdout.write(`${measured.length} of ${reports.length} tensors measured (σ in the matrix view; over a batch: min σmin, max σmax, max error, min stable rank)\n`);
  }
  if (tolerance !== null) {
    if (failing.length > 0) {
      io.stderr.write(
        `check failed: ${failing.length} of ${measured.length} weights exceed orthogonality error ${tolerance}: ${failing.map((r) => r.name).join(', ')}\n`,
      );
      return 1;
    }
    if (!v.json) io.stdout.write(`check passed: all ${measured.length} weights within orthogonality error ${tolerance}\n`);
  }
  return 0;
}

function reportTable(reports: readonly TensorReport[]): string {
  const columns: Column[] = [
    { title: 'tensor' },
    { title: 'dtype' },
    { title: 'shape' },
    { title: 'matrix' },
    { title: 'σmin', right: true },
    { title: 'σmax', right: true },
    { title: 'orth. error', right: true },
    { title: 'stable rank', right: true },
    { title: 'note' },
  ];
  const rows = reports.map((r) => {
    const head = [r.name, r.dtype, showShape(r.shape)];
    if (!r.matrix) return [...head, '-', '', '', '', '', `not measured: ${r.skipped}`];
    if (r.nonFinite) return [...head, showShape(r.matrix), '-', '-', '-', '-', 'holds NaN or Inf'];
    return [...head, showShape(r.matrix), sig(r.sigmaMin!, 6), sig(r.sigmaMax!, 6), sci(r.orthogonalityError!), sig(r.stableRank!)];
  });
  return formatTable(columns, rows);
}
