// Worker threads constructing tensors and modules at the same time: each
// native object is handed to its JS constructor through the registry of
// the environment that asked for it, so workers never take each other's.
// fixtures/construct-worker.mjs checks every shape and value it gets back;
// the workers run in a child process (fixtures/construct-race.mjs), so that
// a crash fails this test instead of ending mocha.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from './00.setup.mjs';

const script = fileURLToPath(new URL('./fixtures/construct-race.mjs', import.meta.url));

// Under the sanitizers (scripts/sanitize.sh), many times slower, one round.
const ROUNDS = process.env.ORTHO_SANITIZED ? 1 : 3;

describe('worker threads constructing at once', function () {
  it(`each worker gets the tensors and modules it constructed (${ROUNDS} rounds of 6 workers x 4000 tensors, 60 modules)`, async function () {
    const { code, signal, out, err } = await new Promise((resolve) => {
      execFile(process.execPath, [script, '6', '4000', '60', String(ROUNDS)], { maxBuffer: 1 << 24 }, (e, stdout, stderr) =>
        resolve({ code: e?.code ?? 0, signal: e?.signal ?? null, out: stdout, err: stderr }),
      );
    });
    expect(signal, err.slice(0, 2000)).to.equal(null);
    expect(code, err.slice(0, 2000)).to.equal(0);
    const { reports } = JSON.parse(out);
    expect(reports).to.have.length(6 * ROUNDS);
    const errors = reports.flatMap((r) => r.errors);
    expect(errors, errors.join('\n')).to.deep.equal([]);
    for (const r of reports) expect(r).to.include({ tensors: 4000, modules: 60 });
  });
});
