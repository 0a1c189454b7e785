// Lifetime of native memory, each scenario in a forked child: the GC frees
// undisposed tensors and modules, dispose() frees now, worker threads can be
// terminated mid-flight, and the process exits cleanly with work pending.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from './00.setup.mjs';

const script = fileURLToPath(new URL('./fixtures/lifecycle.mjs', import.meta.url));

function runChild(scenario, execArgv = []) {
  return new Promise((resolve, reject) => {
    const child = fork(script, [scenario], { execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, out: out.trim(), err }));
  });
}

describe('lifecycle (child processes)', function () {
  it('the GC frees tensors that were never disposed (external memory is reported)', async function () {
    const r = await runChild('gc', ['--expose-gc']);
    expect(r.code, r.err).to.equal(0);
    const { growth } = JSON.parse(r.out);
    // 300 x 8 MiB = 2.4 GiB allocated in total; the process must stay far below
    expect(growth).to.be.below(600);
  });

  it('the GC frees modules and their saved contexts', async function () {
    const r = await runChild('modules-gc', ['--expose-gc']);
    expect(r.code, r.err).to.equal(0);
    // 200 contexts of ~13 x 4 MiB would be ~10 GiB
    expect(JSON.parse(r.out).growth).to.be.below(1500);
  });

  it('dispose() returns the memory now', async function () {
    const r = await runChild('dispose');
    expect(r.code, r.err).to.equal(0);
    const { held, after } = JSON.parse(r.out);
    expect(held).to.be.above(200);
    expect(after).to.be.below(50);
  });

  it('worker threads with async work in flight can be terminated', async function () {
    const r = await runChild('worker');
    expect(r.code, r.err).to.equal(0);
    const res = JSON.parse(r.out);
    expect(res.exitCodes).to.deep.equal([1, 1, 1]);
    expect(res.ok).to.equal('4x4');
  });

  it('the process exits cleanly while an async job is pending', async function () {
    const r = await runChild('exit-pending');
    expect(r.signal, r.err).to.equal(null);
    expect(r.code, r.err).to.equal(0);
  });
});
