// Options and checks shared by the subcommands.
import { type ComputeDType, type StorageType, defaultComputeDType } from '../io/dtype';
import { type OptionSpecs, type ParsedValues, UsageError, choice, integer, regexes } from './args';
import type { WeightRule } from './weights';

/** What a subcommand writes to: stdout for results, stderr for diagnostics. */
export interface Io {
  readonly stdout: { write(s: string): boolean };
  readonly stderr: { write(s: string): boolean; readonly isTTY?: boolean; readonly columns?: number };
  readonly env: NodeJS.ProcessEnv;
}

/** --include, --exclude, --batch-dims. */
export const SELECT_OPTIONS = {
  include: { type: 'string', multiple: true },
  exclude: { type: 'string', multiple: true },
  'batch-dims': { type: 'string' },
} as const satisfies OptionSpecs;

/** --device, --dtype. */
export const COMPUTE_OPTIONS = {
  device: { type: 'string' },
  dtype: { type: 'string' },
} as const satisfies OptionSpecs;

export function weightRule(command: string, v: ParsedValues<typeof SELECT_OPTIONS>): WeightRule {
  return {
    include: regexes(command, 'include', v.include),
    exclude: regexes(command, 'exclude', v.exclude),
    batchDims: integer(command, 'batch-dims', v['batch-dims'], 0, 0),
  };
}

/** --device: auto, cpu, cuda or cuda:N. */
export function deviceOption(command: string, value: string | undefined): string {
  const d = value ?? 'auto';
  if (!/^(auto|cpu|cuda(:\d{1,3})?)$/.test(d)) throw new UsageError(`--device must be auto, cpu, cuda or cuda:N; got '${d}'`, command);
  return d === 'cuda' ? 'cuda:0' : d;
}

/** --dtype: a fixed computation dtype, or a per-tensor choice for 'auto' (`fallback` says which). */
export function dtypeOption(
  command: string,
  value: string | undefined,
  fallback: 'auto' | ComputeDType,
): (st: StorageType) => ComputeDType {
  const d = choice(command, 'dtype', value, ['auto', 'float32', 'float64'] as const, fallback);
  return d === 'auto' ? defaultComputeDType : () => d;
}
