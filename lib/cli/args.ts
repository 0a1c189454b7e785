// Command-line parsing on node:util's parseArgs, and the usage error that
// maps to exit code 2.
import { parseArgs } from 'node:util';

/** A command line that is wrong or contradictory: exit code 2. */
export class UsageError extends Error {
  /** The subcommand whose --help would help, if any. */
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };
export type OptionSpecs = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S['type'] extends 'boolean'
  ? S['multiple'] extends true
    ? boolean[]
    : boolean
  : S['multiple'] extends true
    ? string[]
    : string;
export type ParsedValues<O extends OptionSpecs> = { [K in keyof O]?: ValueOf<O[K]> } & { help?: boolean };

/**
 * Parses `argv` for `command` with `options` (plus -h/--help); unknown
 * options, missing values and wrong positional counts are UsageErrors.
 */
export function parseCommand<O extends OptionSpecs>(
  command: string,
  argv: readonly string[],
  options: O,
  positionals: { min: number; max: number; names: string },
): { values: ParsedValues<O>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    // parseArgs's messages are clear; drop its hint about '--' which does not apply to most cases.
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''), command);
  }
  const values = parsed.values as ParsedValues<O>;
  if (!values.help) {
    const n = parsed.positionals.length;
    if (n < positionals.min) throw new UsageError(`missing ${positionals.names}`, command);
    if (n > positionals.max)
      throw new UsageError(`unexpected argument${n - positionals.max > 1 ? 's' : ''}: ${parsed.positionals.slice(positionals.max).join(' ')}`, command);
  }
  return { values, positionals: parsed.positionals };
}

/** `value` if it is one of `choices`, else a UsageError naming the option. */
export function choice<T extends string>(command: string, option: string, value: string | undefined, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value))
    throw new UsageError(`--${option} must be one of ${choices.join(', ')}; got '${value}'`, command);
  return value as T;
}

/** A whole number >= min from an option's text, else a UsageError. */
export function integer(command: string, option: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(Number(value)) || Number(value) < min)
    throw new UsageError(`--${option} must be a whole number >= ${min}; got '${value}'`, command);
  return Number(value);
}

/** A finite positive number from an option's text, else a UsageError. */
export function positiveNumber(command: string, option: string, value: string): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v) || v <= 0) throw new UsageError(`--${option} must be a positive number; got '${value}'`, command);
  return v;
}

/** Regular expressions from --include/--exclude texts, else a UsageError. */
export function regexes(command: string, option: string, values: readonly string[] | undefined): RegExp[] {
  return (values ?? []).map((v) => {
    try {
      return new RegExp(v, 'u');
    } catch (e) {
      throw new UsageError(`--${option} '${v}' is not a valid regular expression: ${(e as Error).message}`, command);
    }
  });
}
