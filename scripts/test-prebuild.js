#!/usr/bin/env node
// npm run test-prebuild: proves that a checkout holding only the prebuilt
// binary (prebuilds/<platform>-<arch>/, from `npm run prebuild`) loads it and
// passes the test suite without compiling. Copies the package without
// build/ and native sources into a temporary folder and runs mocha there
// with PREBUILDS_ONLY=1 (node-gyp-build then refuses any local build).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const binaries = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
if (binaries.length === 0) {
  console.error(`test-prebuild: no prebuilt binary in ${path.relative(root, dir)}/; run \`npm run prebuild\` first`);
  process.exit(1);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'orthogonium-prebuild-'));
const copy = (rel) => fs.cpSync(path.join(root, rel), path.join(tmp, rel), { recursive: true });
// What the published package holds (package.json "files") except the native
// sources and CMakeLists.txt, plus the tests, the compiled examples, the
// script test/45 unpacks NVIDIA's libraries with (so that the loader of the
// prebuilt binary meets the real cuBLAS and cuSOLVER too), the PyTorch
// reference test/46 compares every preset with, and the soak test/75 runs.
for (const rel of ['package.json', 'index.mjs', 'binding.d.ts', 'bin', 'dist', 'prebuilds', '.mocharc.json', 'test', 'examples', 'tools/cuda-libs', 'bench/gpu/torch_ref.py', 'bench/soak.mjs', 'bench/soak-workloads.mjs', 'scripts/install.js']) {
  if (fs.existsSync(path.join(root, rel))) copy(rel);
}
fs.symlinkSync(path.join(root, 'node_modules'), path.join(tmp, 'node_modules'), 'dir');
console.log(`test-prebuild: ${binaries.join(', ')} in ${tmp} (no build/, no native sources)`);

const env = { ...process.env, PREBUILDS_ONLY: '1' };
const probe = spawnSync(process.execPath, ['-e', "const o = require('./'); console.log('loaded; backends:', JSON.stringify(o.backends()))"], {
  cwd: tmp,
  env,
  stdio: 'inherit',
});
let status = probe.status;
if (status === 0) {
  const mocha = path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
  status = spawnSync(process.execPath, [mocha], { cwd: tmp, env, stdio: 'inherit' }).status;
}
fs.rmSync(tmp, { recursive: true, force: true });
process.exit(status ?? 1);
