#!/usr/bin/env node
'use strict';
// The `orthogonium` command (see docs/cli.md); the code is in lib/cli/ (built to dist/cli/).
let cli;
try {
  cli = require('../dist/cli/main.js');
} catch (e) {
  // The library refuses to load (a native binary this CPU cannot run): the
  // command's error format and exit code 1, not a stack trace.
  process.stderr.write(e && e.code ? `error [${e.code}]: ${e.message}\n` : `error: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
}
cli.run();
