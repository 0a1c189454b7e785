// `orthogonium info`: version, platform, backends (and why CUDA is off).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type BackendInfo, backends } from '../diagnostics';
import { binding } from '../native';
import { type OptionSpecs, parseCommand } from './args';
import type { Io } from './common';
import { PRESET_NAMES } from './compute';
import { HELP } from './help';

const OPTIONS = { json: { type: 'boolean' } } as const satisfies OptionSpecs;

/** The package's version, from its package.json. */
export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function describeBackend(b: BackendInfo): string {
  if (!b.available) return `${b.name}: unavailable: ${b.reason ?? 'no reason given'}`;
  const parts = [`${b.name}: available`];
  if (b.threads !== undefined) parts.push(`${b.threads} thread${b.threads === 1 ? '' : 's'}`);
  if (b.level) {
    const others = (b.levels ?? []).filter((l) => l !== b.level);
    parts.push(`kernels ${b.level}${b.cpuLevel ? ` (CPU runs ${b.cpuLevel})` : ''}${others.length ? `, also built: ${others.join(' ')}` : ''}`);
  }
  if (b.devices?.length) parts.push(b.devices.map((d, i) => `cuda:${i} ${d}`).join(', '));
  else if (b.deviceCount !== undefined) parts.push(`${b.deviceCount} device${b.deviceCount === 1 ? '' : 's'}`);
  if (b.detail) parts.push(b.detail);
  return parts.join(', ');
}

function describeLibraries(l: ReturnType<typeof binding.cudaLibraries>): string {
  if (!l.ok) return `cuda libraries: not loaded: ${l.reason ?? 'no reason given'}`;
  const dirs = [...new Set((l.files ?? []).map((f) => path.dirname(f)))];
  return `cuda libraries: ${l.versions} from ${dirs.join(', ')}`;
}

export function infoCommand(argv: readonly string[], io: Io): number {
  const { values: v } = parseCommand('info', argv, OPTIONS, { min: 0, max: 0, names: '' });
  if (v.help) {
    io.stdout.write(HELP.info);
    return 0;
  }
  const info = {
    name: 'orthogonium-node',
    version: packageVersion(),
    node: process.version,
    napi: process.versions.napi,
    platform: `${process.platform}-${process.arch}`,
    backends: backends(),
    // cuBLAS/cuSOLVER on their own (they load without a GPU): on a machine
    // without one, this says whether a GPU deployment would find them.
    cudaLibraries: binding.cudaLibraries(),
    presets: PRESET_NAMES,
  };
  if (v.json) {
    io.stdout.write(JSON.stringify(info, null, 2) + '\n');
    return 0;
  }
  io.stdout.write(
    [
      `${info.name} ${info.version}`,
      `node ${info.node} (N-API ${info.napi}) on ${info.platform}`,
      'backends:',
      ...info.backends.map((b) => `  ${describeBackend(b)}`),
      ...info.backends.filter((b) => b.features).map((b) => `  ${b.name} features (CPUID): ${b.features!.join(' ') || 'none above x86-64'}`),
      ...(info.cudaLibraries.built ? [`  ${describeLibraries(info.cudaLibraries)}`] : []),
      `presets (--params): ${info.presets.join(', ')}`,
      '',
    ].join('\n'),
  );
  return 0;
}
