// The `orthogonium` command: subcommand dispatch, error reporting, exit
// codes (0 success, 1 processing error, 2 usage error) and signal handling.
import { AtomicOutput } from '../io/files';
import { UsageError } from './args';
import type { Io } from './common';
import { demoCommand } from './demo';
import { HELP } from './help';
import { infoCommand, packageVersion } from './info';
import { orthogonalizeCommand } from './orthogonalize';
import { reportCommand } from './report';

const COMMANDS: Record<string, (argv: readonly string[], io: Io) => number | Promise<number>> = {
  orthogonalize: orthogonalizeCommand,
  report: reportCommand,
  info: infoCommand,
  demo: demoCommand,
};

/** How an error is shown: `error [CODE]: message` when it has a code. */
export function formatError(e: unknown): string {
  if (e instanceof UsageError) {
    const hint = e.command ? `orthogonium ${e.command} --help` : 'orthogonium --help';
    return `error: ${e.message}\n(see ${hint})\n`;
  }
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code ? `error [${code}]: ${e.message}\n` : `error: ${e.message}\n`;
  }
  return `error: ${String(e)}\n`;
}

/** Runs one command line; resolves to the exit code. Never throws. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  try {
    const [command, ...rest] = argv;
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      const topic = command === 'help' ? rest[0] : undefined;
      if (topic !== undefined && !Object.hasOwn(COMMANDS, topic)) throw new UsageError(`unknown command '${topic}'`);
      // No command at all is a usage error (help on stderr); asking for help is not.
      if (command === undefined) {
        io.stderr.write(HELP.main);
        return 2;
      }
      io.stdout.write(topic ? HELP[topic as keyof typeof HELP] : HELP.main);
      return 0;
    }
    if (command === '-v' || command === '--version') {
      io.stdout.write(`${packageVersion()}\n`);
      return 0;
    }
    if (!Object.hasOwn(COMMANDS, command)) throw new UsageError(`unknown command '${command}' (commands: ${Object.keys(COMMANDS).join(', ')})`);
    return await COMMANDS[command](rest, io);
  } catch (e) {
    io.stderr.write(formatError(e));
    return e instanceof UsageError ? 2 : 1;
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * The process entry point (bin/orthogonium.js). On SIGINT, SIGTERM or SIGHUP
 * the temporary output is removed, then the signal is raised again with its
 * default action, so that the parent sees the process killed by it (exit
 * status 128 + signal number in a shell).
 */
export function run(): void {
  const onSignal = (signal: NodeJS.Signals) => {
    AtomicOutput.abortAllSync();
    process.stderr.write(`\northogonium: interrupted by ${signal}; no output written\n`);
    for (const s of SIGNALS) process.removeAllListeners(s);
    process.kill(process.pid, signal);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  // Last resort: nothing that ends the process leaves a temporary file.
  process.on('exit', () => AtomicOutput.abortAllSync());
  // exitCode rather than exit(): stdout may be a pipe that is still draining.
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then((code) => {
    process.exitCode = code;
  });
}
