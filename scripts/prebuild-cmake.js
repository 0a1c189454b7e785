#!/usr/bin/env node
// Stands in for node-gyp when prebuildify builds (npm run prebuild):
// prebuildify calls `<node-gyp> rebuild --target=… --arch=… --release`; a
// Node-API addon does not depend on the target version, so this runs
// `cmake-js compile` (build/Release/orthogonium.node and, on Linux x86-64,
// one orthogonium-cpu-<level>.so per CPU level, which prebuildify copies
// beside the addon) and ignores the rest.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
// compile (not rebuild): an up-to-date build/ is reused, a missing one configured.
const args = ['compile'];
for (const k of ['ORTHO_CUDA', 'ORTHO_CUDA_HEADER_CHECK', 'ORTHO_CPU_DISPATCH', 'ORTHO_CPU_LEVELS'])
  if (process.env[k] !== undefined) args.push(`--CD${k}=${process.env[k]}`);
const cli = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
