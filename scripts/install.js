#!/usr/bin/env node
// npm's install hook. Uses a prebuilt binary from prebuilds/ when one loads
// on this machine and its CPU backend works; otherwise compiles the addon
// with cmake-js. Then compiles the TypeScript (lib/ -> dist/) when this is a
// source checkout.
//   --force   always recompile both (npm run compile); so does any of the
//             ORTHO_* build settings below being set
// Build settings (environment, passed to CMake; see CMakeLists.txt):
// ORTHO_CUDA=AUTO|ON|OFF (default AUTO), ORTHO_CUDA_HEADER_CHECK,
// ORTHO_CPU_DISPATCH=ON|OFF and ORTHO_CPU_LEVELS (e.g. "baseline;v3;v4").
// A setting reconfigures an existing build/ (CMake keeps the earlier
// settings that are not given again).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const force = process.argv.includes('--force');
const SETTINGS = ['ORTHO_CUDA', 'ORTHO_CUDA_HEADER_CHECK', 'ORTHO_CPU_DISPATCH', 'ORTHO_CPU_LEVELS'];

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) {
    console.error(`orthogonium-node: \`${path.basename(cmd)} ${args.join(' ')}\` failed (exit ${r.status ?? r.signal}).`);
    process.exit(r.status || 1);
  }
}

function bin(name) {
  const local = path.join(root, 'node_modules', '.bin', name);
  return fs.existsSync(local) ? local : null;
}

// cmake-js's command line, wherever npm put the package (in an installed
// package it is hoisted next to this one).
function cmakeJs() {
  try {
    return require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  } catch {
    return null;
  }
}

// The binary node-gyp-build would load, loaded, with a CPU backend that
// works (its kernel libraries beside it, one of them fit for this CPU).
function loadsNow() {
  try {
    const binding = require('node-gyp-build')(root);
    return binding.backends().some((b) => b.name === 'cpu' && b.available);
  } catch {
    return false;
  }
}

// What a source build needs from the system, missing here.
function missingTools() {
  const has = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
  const missing = [];
  if (!has('cmake', ['--version'])) missing.push('cmake');
  if (!has(process.env.CXX || 'c++', ['--version'])) missing.push('a C++17 compiler (g++ or clang++)');
  return missing;
}

const buildAsked = SETTINGS.some((k) => process.env[k] !== undefined);
if (force || buildAsked || !loadsNow()) {
  const cli = cmakeJs();
  const missing = missingTools();
  if (cli && missing.length === 0) {
    const settings = SETTINGS.filter((k) => process.env[k] !== undefined).map((k) => `--CD${k}=${process.env[k]}`);
    const configured = fs.existsSync(path.join(root, 'build', 'CMakeCache.txt'));
    // `compile` configures only a build/ that has none; settings must reach
    // an existing one too.
    if (configured && settings.length) run(process.execPath, [cli, 'configure', ...settings]);
    run(process.execPath, [cli, 'compile', ...settings]);
  } else if (!force && loadsNow()) {
    // An ORTHO_* setting, but no build tools: keep the binary that loads.
    console.warn(
      `orthogonium-node: ORTHO_* build settings are set but ${cli ? missing.join(' and ') : 'cmake-js'} is missing; keeping the binary that loads\n` +
        '(to build: install the prerequisites in README.md, then run npm rebuild orthogonium-node).',
    );
  } else {
    console.error(
      `orthogonium-node: no prebuilt binary works on this platform (${process.platform}-${process.arch}), and a source build needs ` +
        `${cli ? missing.join(' and ') : 'cmake-js (npm install cmake-js)'}.\n` +
        'Install the build prerequisites (a C++17 compiler, CMake >= 3.18, Eigen 3.4; on Debian or Ubuntu:\n' +
        '  apt-get install -y g++ cmake libeigen3-dev)\n' +
        'then run: npm rebuild orthogonium-node',
    );
    process.exit(1);
  }
}

const tsc = bin('tsc');
const haveSources = fs.existsSync(path.join(root, 'lib', 'index.ts'));
if (haveSources && tsc && (force || !fs.existsSync(path.join(root, 'dist', 'index.js')) || isStale('lib', 'dist'))) {
  run(tsc, ['-p', 'tsconfig.json']);
  const esmEntry = path.join(__dirname, 'esm-entry.js');  // the repository's, not the package's
  if (fs.existsSync(esmEntry)) run(process.execPath, [esmEntry]);
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
