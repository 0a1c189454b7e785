// Memory soak (about a minute): the server-like mix of bench/soak.mjs on
// small shapes, 60,000 calls in a child process, RSS sampled after a full GC
// and the finalizers it schedules. After the warm-up the process must sit on
// a plateau: over the second half (30,000 calls) it may not grow by what a
// leak of half a KiB per call would add, nor trend upward by that much
// (least-squares slope). A second run leaks 1 KiB per call on purpose and
// must fail the same bound, so that the bound is known to catch one.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from './00.setup.mjs';

const soak = fileURLToPath(new URL('../bench/soak.mjs', import.meta.url));
const CALLS = 60000;
// Half a KiB per call over the second half, in bytes: a 1 KiB/call leak adds twice that.
const SECOND_HALF_BOUND = (CALLS / 2) * 512;
const SLOPE_BOUND = 512;  // bytes per call

/** Runs bench/soak.mjs with `args` in a child process; resolves to its JSON result. */
function runSoak(args, env = {}) {
  const json = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'orthogonium-soak-test-')), 'soak.json');
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', soak, '--quiet', '--samples', '24', '--json', json, ...args],
      { env: { ...process.env, ...env }, maxBuffer: 1 << 24 },
      (e, stdout, stderr) => {
        if (e) return reject(new Error(`soak failed (${e.code ?? e.signal}): ${stderr || stdout}`));
        const r = JSON.parse(fs.readFileSync(json, 'utf8'));
        fs.rmSync(path.dirname(json), { recursive: true, force: true });
        resolve({ ...r, line: stdout.trim() });
      },
    );
  });
}

const withinBound = (s) => s.growthSecondHalf < SECOND_HALF_BOUND && s.bytesPerCallSecondHalf < SLOPE_BOUND;

describe('memory soak (child processes)', function () {
  it(`RSS stays on a plateau over ${CALLS} calls of the server-like mix (second half: under ${(SECOND_HALF_BOUND / 2 ** 20).toFixed(1)} MiB and ${SLOPE_BOUND} B/call)`, async function () {
    const r = await runSoak(['--workload', 'small', '--calls', String(CALLS)], { ORTHO_CPU_CACHE_MB: '8' });
    const s = r.summary;
    expect(s.growthSecondHalf, r.line).to.be.below(SECOND_HALF_BOUND);
    expect(s.bytesPerCallSecondHalf, r.line).to.be.below(SLOPE_BOUND);
  });

  it('the same bound fails a run that leaks 1 KiB per call', async function () {
    const r = await runSoak(['--workload', 'clone', '--calls', String(CALLS), '--leak', '1024']);
    expect(withinBound(r.summary), r.line).to.equal(false);
  });
});
