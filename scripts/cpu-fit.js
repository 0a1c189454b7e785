// Whether the addon binary that node-gyp-build would load runs on this CPU.
//
// The CPU kernels are compiled for an x86-64 microarchitecture level
// (CMake's ORTHO_CPU_ARCH, x86-64-v3 by default: AVX2 + FMA). On a CPU
// without those instructions the binary dies with SIGILL as soon as it runs
// one, which no error handler can catch. So the decision is made from
// /proc/cpuinfo before the binary is loaded: by the install hook (which then
// compiles for the compiler's default target instead) and by the library's
// loader (which throws ERR_ORTHO_DEVICE naming the missing features rather
// than crash). Written as plain CommonJS: the install hook runs it before
// the TypeScript is compiled.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

// The Linux /proc/cpuinfo flag of each feature of the levels (x86-64 psABI;
// lzcnt shows as "abm").
const V2 = ['cx16', 'lahf_lm', 'popcnt', 'pni', 'sse4_1', 'sse4_2', 'ssse3'];
const LEVELS = {
  'x86-64-v2': V2,
  'x86-64-v3': [...V2, 'avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe', 'xsave'],
};
LEVELS['x86-64-v4'] = [...LEVELS['x86-64-v3'], 'avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl'];
// What `npm run prebuild` compiles for (CMake's default on x86-64); the
// prebuilt .node carries no record of it.
const PREBUILT_ARCH = 'x86-64-v3';
// Written next to a local build by CMakeLists.txt: the ORTHO_CPU_ARCH it used.
const ARCH_FILE = 'cpu-arch.txt';
// The package root (this file is scripts/cpu-fit.js).
const ROOT = path.join(__dirname, '..');

/** Whether `file` is one of this package's prebuilt binaries (prebuilds/ under the root). */
function isPrebuilt(file) {
  return path.relative(ROOT, path.resolve(file)).split(path.sep)[0] === 'prebuilds';
}

/** The flags of the first processor in a /proc/cpuinfo text, or null. */
function parseFlags(cpuinfo) {
  const line = String(cpuinfo)
    .split('\n')
    .find((l) => /^flags\s*:/.test(l));
  return line ? new Set(line.replace(/^flags\s*:/, '').trim().split(/\s+/)) : null;
}

/** This machine's CPU flags; null where they cannot be read (not Linux x64). */
function hostFlags() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return null;
  try {
    return parseFlags(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return null;
  }
}

/** Features of level `arch` missing from `flags` ([] for unknown levels or flags). */
function missingFor(arch, flags) {
  const need = LEVELS[arch];
  if (!need || !flags) return [];
  return need.filter((f) => !flags.has(f));
}

/** The level a binary at `file` was compiled for ('' = the compiler's default). */
function binaryArch(file) {
  if (isPrebuilt(file)) return process.arch === 'x64' ? PREBUILT_ARCH : '';
  try {
    return fs.readFileSync(path.join(path.dirname(file), ARCH_FILE), 'utf8').trim();
  } catch {
    return PREBUILT_ARCH; // a build from before the record existed: CMake's default
  }
}

/** Why the binary at `file` cannot run here, or null when it can (or nobody can tell). */
function whyNotFit(file, flags = hostFlags()) {
  const arch = binaryArch(file);
  const missing = missingFor(arch, flags);
  if (missing.length === 0) return null;
  const where = isPrebuilt(file) ? 'the prebuilt binary' : `the build in ${path.dirname(file)}`;
  return (
    `this CPU lacks ${missing.join(', ')}, which ${where} needs (compiled for ${arch}); ` +
    'loading it would crash the process. Compile it for this CPU: npm rebuild orthogonium-node ' +
    '(in a source checkout: npm run compile), which on this CPU targets the compiler\'s default ' +
    '(ORTHO_CPU_ARCH sets another)'
  );
}

/**
 * The ORTHO_CPU_ARCH the install hook passes to CMake: the environment's
 * when set (even empty), else '' (the compiler's default) on a CPU that
 * lacks CMake's default level, else undefined (CMake's default).
 */
function buildArch(env = process.env, flags = hostFlags()) {
  if (env.ORTHO_CPU_ARCH !== undefined) return env.ORTHO_CPU_ARCH;
  return missingFor(PREBUILT_ARCH, flags).length > 0 ? '' : undefined;
}

module.exports = { ARCH_FILE, PREBUILT_ARCH, ROOT, isPrebuilt, parseFlags, hostFlags, missingFor, binaryArch, whyNotFit, buildArch };
