#!/usr/bin/env node
'use strict';
// The `orthogonium` command (see docs/cli.md); the code is in lib/cli/ (built to dist/cli/).
require('../dist/cli/main.js').run();
