#!/usr/bin/env node
// npm run prebuild:arm64: the linux-arm64 prebuild, cross-compiled here with
// Debian's g++-aarch64-linux-gnu (apt-get install -y g++-aarch64-linux-gnu
// libeigen3-dev) into build-arm64/, copied to prebuilds/linux-arm64/. CPU
// only: the CUDA backend is not cross-compiled. The kernels are linked into
// the addon (no CPU dispatch on arm64: NEON is part of the architecture).
// npm run test:arm64 runs it under qemu-aarch64 with the real arm64 Node.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const build = path.join(root, 'build-arm64');
const out = path.join(root, 'prebuilds', 'linux-arm64');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`prebuild:arm64: \`${cmd} ${args.join(' ')}\` failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

if (spawnSync('aarch64-linux-gnu-g++', ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.error('prebuild:arm64: aarch64-linux-gnu-g++ not found; on Debian or Ubuntu: apt-get install -y g++-aarch64-linux-gnu');
  process.exit(1);
}
const eigen = process.env.EIGEN3_INCLUDE_DIR || '/usr/include/eigen3';
if (!fs.existsSync(path.join(eigen, 'Eigen', 'Core'))) {
  console.error(`prebuild:arm64: Eigen not found in ${eigen}; apt-get install -y libeigen3-dev (or set EIGEN3_INCLUDE_DIR)`);
  process.exit(1);
}
const nodeApi = path.join(path.dirname(require.resolve('node-api-headers/package.json', { paths: [root] })), 'include');
run('cmake', [
  '-S', root, '-B', build, '-G', fs.existsSync('/usr/bin/ninja') ? 'Ninja' : 'Unix Makefiles',
  `-DCMAKE_TOOLCHAIN_FILE=${path.join(root, 'cmake', 'aarch64-linux-gnu.cmake')}`,
  '-DCMAKE_BUILD_TYPE=Release', '-DORTHO_CUDA=OFF', `-DEIGEN3_INCLUDE_DIR=${eigen}`,
  `-DCMAKE_JS_INC=${nodeApi}`, `-DCMAKE_LIBRARY_OUTPUT_DIRECTORY=${path.join(build, 'Release')}`,
]);
run('cmake', ['--build', build, '--parallel']);
fs.mkdirSync(out, { recursive: true });
const target = path.join(out, 'orthogonium-node.napi.node');
fs.copyFileSync(path.join(build, 'Release', 'orthogonium.node'), target);
run('aarch64-linux-gnu-strip', ['--strip-all', target]);
console.log(`prebuild:arm64: ${path.relative(root, target)}`);
