// Fuzzing the command line's file readers (fast-check, property-based):
// corrupted safetensors and .npy headers, header lengths, offsets, sizes and
// truncations must each be read cleanly or refused with a FileFormatError
// and its stable code (test/fixtures/fuzz-io.mjs). It runs in a child
// process with a time limit, so that a hang fails the test. The seed is
// fixed (ORTHO_FUZZ_SEED picks another, ORTHO_FUZZ_RUNS the runs per property).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from './00.setup.mjs';

const script = fileURLToPath(new URL('./fixtures/fuzz-io.mjs', import.meta.url));
const runs = process.env.ORTHO_FUZZ_RUNS ?? '400';
const seed = process.env.ORTHO_FUZZ_SEED ?? '20261207';

describe('safetensors and .npy readers under fuzzing', function () {
  it(`read cleanly or refuse with a stable code (${runs} runs per property, seed ${seed}, no hang within 120 s)`, async function () {
    const r = await new Promise((resolve) => {
      execFile(process.execPath, [script, runs, seed], { timeout: 120000, killSignal: 'SIGKILL', maxBuffer: 1 << 24 }, (e, stdout, stderr) =>
        resolve({ e, stdout, stderr }),
      );
    });
    expect(r.e?.signal ?? null, `fuzz run killed (a hang?): ${r.stderr}`).to.equal(null);
    expect(r.e, r.stderr).to.equal(null);
    const { failures, files } = JSON.parse(r.stdout);
    expect(failures, failures.join('\n\n')).to.deep.equal([]);
    expect(files.read + files.refused).to.be.above(0);
  });
});
