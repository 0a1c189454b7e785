#!/usr/bin/env node
// npm's install hook. Uses a prebuilt binary from prebuilds/ when one loads
// on this machine; otherwise compiles the addon with cmake-js. Then compiles
// the TypeScript (lib/ -> dist/) when this is a source checkout.
//   --force   always recompile both (npm run compile); so does any of the
//             ORTHO_* build settings below being set
// Environment: ORTHO_CUDA=AUTO|ON|OFF is passed to CMake (default AUTO).
// ORTHO_CUDA_HEADER_CHECK=AUTO|ON|OFF too (see CMakeLists.txt), and
// ORTHO_CPU_ARCH (the -march of the CPU code; empty: the compiler's
// default). Without it, a CPU that lacks the prebuilt level (AVX2 + FMA)
// gets the compiler's default instead of a binary it cannot run.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const cpuFit = require('./cpu-fit');

const root = path.join(__dirname, '..');
const force = process.argv.includes('--force');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) {
    console.error(`orthogonium-node: \`${cmd} ${args.join(' ')}\` failed (exit ${r.status ?? r.signal}).`);
    process.exit(r.status || 1);
  }
}

function bin(name) {
  const local = path.join(root, 'node_modules', '.bin', name);
  return fs.existsSync(local) ? local : null;
}

// A binary that needs instructions this CPU lacks is not tried: loading it
// would kill this process (SIGILL) instead of throwing.
function loadsNow() {
  try {
    const file = require('node-gyp-build').resolve(root);
    if (cpuFit.whyNotFit(file)) return false;
    require(file);
    return true;
  } catch {
    return false;
  }
}

// A build setting in the environment asks for a build: a binary that loads
// (a prebuild, an earlier build) may have been made with other settings.
const buildAsked = ['ORTHO_CUDA', 'ORTHO_CUDA_HEADER_CHECK', 'ORTHO_CPU_ARCH'].some((k) => process.env[k] !== undefined);
if (force || buildAsked || !loadsNow()) {
  const cmakeJs = bin('cmake-js');
  if (cmakeJs) {
    const args = ['compile'];
    if (process.env.ORTHO_CUDA) args.push(`--CDORTHO_CUDA=${process.env.ORTHO_CUDA}`);
    if (process.env.ORTHO_CUDA_HEADER_CHECK) args.push(`--CDORTHO_CUDA_HEADER_CHECK=${process.env.ORTHO_CUDA_HEADER_CHECK}`);
    const arch = cpuFit.buildArch();
    if (arch !== undefined) args.push(`--CDORTHO_CPU_ARCH=${arch}`);
    run(cmakeJs, args);
  } else if (!force && loadsNow()) {
    // An ORTHO_* setting, but no build tools (an install from the registry,
    // where cmake-js is a devDependency): keep the binary that loads.
    console.warn(
      'orthogonium-node: ORTHO_* build settings are set but cmake-js is not installed; keeping the binary that loads\n' +
        '(to build: install cmake-js and the prerequisites in README.md, then run npm rebuild orthogonium-node).',
    );
  } else {
    console.error(
      'orthogonium-node: no prebuilt binary fits this platform and cmake-js is not installed.\n' +
        'Install the build prerequisites (a C++17 compiler, CMake >= 3.18, Eigen 3.4: apt-get install -y libeigen3-dev)\n' +
        'and cmake-js (npm install cmake-js), then run: npm rebuild orthogonium-node',
    );
    process.exit(1);
  }
}

const tsc = bin('tsc');
const haveSources = fs.existsSync(path.join(root, 'lib', 'index.ts'));
if (haveSources && tsc && (force || !fs.existsSync(path.join(root, 'dist', 'index.js')) || isStale('lib', 'dist'))) {
  run(tsc, ['-p', 'tsconfig.json']);
}
// The examples (examples/*.ts -> examples/build/), run by the test suite.
if (haveSources && tsc && fs.existsSync(path.join(root, 'examples', 'tsconfig.json')) && (force || isStale('examples', 'examples/build'))) {
  run(tsc, ['-p', 'examples/tsconfig.json']);
}

// True when a .ts source under `src` is newer than its compiled file in `out`.
function isStale(src, out) {
  const walk = (dir) =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.name !== 'build' && e.name !== 'node_modules')
      .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  return walk(path.join(root, src))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .some((f) => {
      const js = path.join(root, out, path.relative(path.join(root, src), f)).replace(/\.ts$/, '.js');
      return !fs.existsSync(js) || fs.statSync(js).mtimeMs < fs.statSync(f).mtimeMs;
    });
}
