// Loads the native addon: a prebuild from prebuilds/<platform>-<arch>/ when
// one fits, else the local build in build/Release (node-gyp-build decides).
import * as path from 'node:path';
import type { Binding } from '../binding';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const binding: Binding = require('node-gyp-build')(path.join(__dirname, '..'));
