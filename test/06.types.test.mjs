// The published TypeScript types: test/types/api.ts compiles against
// dist/*.d.ts as a user's code would (every @ts-expect-error line must be an
// error), and the declarations hold nothing marked @internal.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { expect } from './00.setup.mjs';

const require = createRequire(import.meta.url);
const root = path.dirname(require.resolve('../package.json'));

function declarations(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return declarations(p);
    return e.name.endsWith('.d.ts') ? [p] : [];
  });
}

describe('TypeScript declarations', function () {
  it('test/types/api.ts type-checks against the published declarations', function () {
    const tsc = require.resolve('typescript/bin/tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'test/types/tsconfig.json')], { cwd: root, encoding: 'utf8' });
    expect(r.status, `tsc:\n${r.stdout}${r.stderr}`).to.equal(0);
  });

  it('dist/*.d.ts leave out the internals (stripInternal) and the native binding', function () {
    const files = declarations(path.join(root, 'dist'));
    expect(files.length).to.be.greaterThan(10);
    const reachable = new Set();
    const visit = (file) => {
      if (reachable.has(file)) return;
      reachable.add(file);
      const text = fs.readFileSync(file, 'utf8');
      for (const [, spec] of text.matchAll(/from '(\.[^']+)'/g)) {
        const target = path.resolve(path.dirname(file), spec);
        visit(fs.existsSync(target + '.d.ts') ? target + '.d.ts' : path.join(target, 'index.d.ts'));
      }
    };
    visit(path.join(root, 'dist/index.d.ts'));
    for (const file of reachable) {
      const text = fs.readFileSync(file, 'utf8');
      const rel = path.relative(root, file);
      expect(text, rel).to.not.match(/@internal/);
      expect(text, rel).to.not.match(/binding/);
      expect(text, rel).to.not.match(/\b(wrapNative|handleOf|makeError|readBaseOptions|createNative|nativeModuleOf)\b/);
    }
  });
});
