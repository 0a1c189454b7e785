// Loads the native addon: a prebuild from prebuilds/<platform>-<arch>/ when
// one fits, else the local build in build/Release (node-gyp-build decides).
// The addon itself is compiled for baseline x86-64 and loads on any CPU; it
// chooses its CPU kernels from what the CPU reports (CPUID), at the CPU
// backend's first use (see backends()).
import * as path from 'node:path';
import type { Binding } from '../binding';

const root = path.join(__dirname, '..');
/* eslint-disable @typescript-eslint/no-require-imports */
const nodeGypBuild = require('node-gyp-build') as (dir: string) => Binding;
/* eslint-enable @typescript-eslint/no-require-imports */

export const binding: Binding = nodeGypBuild(root);
