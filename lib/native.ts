// Loads the native addon: a prebuild from prebuilds/<platform>-<arch>/ when
// one fits, else the local build in build/Release (node-gyp-build decides).
// A binary compiled for CPU instructions this machine lacks is refused with
// ERR_ORTHO_DEVICE before it is loaded: loaded, it would kill the process
// with SIGILL (scripts/cpu-fit.js).
import * as path from 'node:path';
import type { Binding } from '../binding';
import { ErrorCodes, makeError } from './errors';

const root = path.join(__dirname, '..');
/* eslint-disable @typescript-eslint/no-require-imports */
const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
const cpuFit = require('../scripts/cpu-fit.js') as { whyNotFit(file: string): string | null };
/* eslint-enable @typescript-eslint/no-require-imports */

function load(): Binding {
  const file = nodeGypBuild.resolve(root);
  const why = cpuFit.whyNotFit(file);
  if (why) throw makeError(Error, ErrorCodes.DEVICE, `orthogonium-node cannot use the cpu: ${why}`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as Binding;
}

export const binding: Binding = load();
