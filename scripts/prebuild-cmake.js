#!/usr/bin/env node
// Stands in for node-gyp when prebuildify builds (npm run prebuild):
// prebuildify calls `<node-gyp> rebuild --target=… --arch=… --release`; a
// Node-API addon does not depend on the target version, so this runs
// `cmake-js compile` (build/Release/orthogonium.node) and ignores the rest.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
// compile (not rebuild): an up-to-date build/ is reused, a missing one configured.
const args = ['compile'];
if (process.env.ORTHO_CUDA) args.push(`--CDORTHO_CUDA=${process.env.ORTHO_CUDA}`);
if (process.env.ORTHO_CUDA_HEADER_CHECK) args.push(`--CDORTHO_CUDA_HEADER_CHECK=${process.env.ORTHO_CUDA_HEADER_CHECK}`);
// A prebuilt binary carries no record of its CPU level: scripts/cpu-fit.js
// assumes this one, so it is set explicitly (whatever the environment says).
if (process.arch === 'x64') args.push(`--CDORTHO_CPU_ARCH=${require('./cpu-fit').PREBUILT_ARCH}`);
const r = spawnSync(path.join(root, 'node_modules', '.bin', 'cmake-js'), args, { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
