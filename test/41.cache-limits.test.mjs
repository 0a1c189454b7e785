// The caps on the caches of freed memory blocks: ORTHO_CPU_CACHE_MB (host)
// and ORTHO_CUDA_CACHE_MB (each CUDA device). A cap is read once per
// process, when the backend is first used, so every case runs in a child
// process with its own setting.
//
// Everywhere: a value that is not whole MiB makes the backend unavailable,
// with the variable named in backends()' reason, and every use of it throws
// ERR_ORTHO_INVALID_ARG; 0 and unset work.
//
// With CUDA (the GPU, or tools/cuda-emu; skipped, with the reason,
// otherwise): a workload that frees far more than a 1 MiB cap keeps the
// cache at or under it after every call, a cap of 0 caches nothing, and
// the results are the same, bit for bit, with the default cap, 1 MiB and 0.
// Under the emulator (whose device memory is counted, and can be made
// small with ORTHO_EMU_DEVICE_MB), also: blocks beyond the cap are really
// given back (cudaFree), and a full device empties the cache and retries.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from './00.setup.mjs';
import { backends } from '../index.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cuda = backends().find((b) => b.name === 'cuda');
const hasCuda = Boolean(cuda?.available);
const emulated = hasCuda && cuda.devices?.[0] === 'Emulated GPU';
const MiB = 2 ** 20;

/**
 * Runs `body` (an async function body, with `ortho` the package, `binding`
 * the addon and `out(value)` its answer) in a child process with `env`
 * added; resolves to the value given to out().
 */
function child(body, env) {
  const script = `
    const ortho = await import(${JSON.stringify(path.join(root, 'index.mjs'))});
    const { createRequire } = await import('node:module');
    const { binding } = createRequire(${JSON.stringify(path.join(root, 'package.json'))})('./dist/native.js');
    const out = (v) => console.log('RESULT ' + JSON.stringify(v));
    ${body}`;
  const e = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k];
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: e, encoding: 'utf8', timeout: 300000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`child failed (${r.status ?? r.signal}): ${r.stderr.slice(-4000)}${r.stdout.slice(-2000)}`);
  return JSON.parse(line.slice(7));
}

// use(device) in a child: the backend's entry in backends() and the error
// (code, message) of making tensors there, null when none.
const USE = `
  const use = (device) => {
    const info = ortho.backends().find((b) => b.name === (device === 'cpu' ? 'cpu' : 'cuda'));
    let error = null;
    try {
      const t = ortho.Tensor.zeros([3, 4], { device });
      ortho.Tensor.randn([300, 300], { device }).dispose();  // a block of a size the caches keep
      t.dispose();
    } catch (e) {
      error = { code: e.code, message: e.message };
    }
    return { info, error };
  };`;

const BAD = ['abc', '-1', '1.5', '8MB', ' 8', '1048577', '99999999999999999999'];

describe('ORTHO_CPU_CACHE_MB', function () {
  this.timeout(120000);

  for (const value of ['0', '8', '1048576', '']) {
    it(`'${value}' is taken`, () => {
      const { info, error } = child(`${USE} out(use('cpu'));`, { ORTHO_CPU_CACHE_MB: value });
      expect(error).to.equal(null);
      expect(info.available).to.equal(true);
    });
  }

  for (const value of BAD) {
    it(`'${value}' makes the CPU unavailable, saying why, and its use throws ERR_ORTHO_INVALID_ARG`, () => {
      const { info, error } = child(`${USE} out(use('cpu'));`, { ORTHO_CPU_CACHE_MB: value });
      expect(info.available).to.equal(false);
      expect(info.reason).to.include(`ORTHO_CPU_CACHE_MB='${value}' is not a cache size`).and.to.include('whole MiB from 0 to 1048576');
      expect(error?.code).to.equal('ERR_ORTHO_INVALID_ARG');
      expect(error.message).to.include(`ORTHO_CPU_CACHE_MB='${value}'`);
    });
  }
});

describe('ORTHO_CUDA_CACHE_MB', function () {
  this.timeout(600000);

  before(function () {
    if (!hasCuda) {
      console.log(`      (skipped: CUDA is unavailable: ${cuda ? cuda.reason : 'no cuda entry in backends()'})`);
      this.skip();
    }
  });

  for (const value of ['abc', '8MB', '1048577']) {
    it(`'${value}' makes CUDA unavailable, saying why, and its use throws ERR_ORTHO_INVALID_ARG; the CPU works`, () => {
      const { cuda: r, cpu } = child(`${USE} out({ cuda: use('cuda'), cpu: use('cpu') });`, { ORTHO_CUDA_CACHE_MB: value });
      expect(r.info.available).to.equal(false);
      expect(r.info.reason).to.include(`ORTHO_CUDA_CACHE_MB='${value}' is not a cache size`);
      expect(r.error?.code).to.equal('ERR_ORTHO_INVALID_ARG');
      expect(r.error.message).to.include(`ORTHO_CUDA_CACHE_MB='${value}'`);
      expect(cpu.error).to.equal(null);
    });
  }

  it("the default is a quarter of the device's memory; backends() gives the cap in the cuda entry's detail", () => {
    const unset = child(
      `out({ detail: ortho.backends().find((b) => b.name === 'cuda').detail, memory: binding.cudaMemory(0) });`,
      { ORTHO_CUDA_CACHE_MB: undefined },
    );
    expect(unset.detail).to.include("freed blocks cached up to a quarter of each device's memory (ORTHO_CUDA_CACHE_MB unset)");
    // The device's memory as cudaGetDeviceProperties gives it; cudaMemGetInfo's total may differ slightly.
    expect(unset.memory.maxCachedBytes).to.be.closeTo(unset.memory.deviceTotalBytes / 4, unset.memory.deviceTotalBytes / 400);
    const five = child(
      `out({ detail: ortho.backends().find((b) => b.name === 'cuda').detail, memory: binding.cudaMemory(0) });`,
      { ORTHO_CUDA_CACHE_MB: '5' },
    );
    expect(five.detail).to.include('freed blocks cached up to 5 MiB per device (ORTHO_CUDA_CACHE_MB)');
    expect(five.memory.maxCachedBytes).to.equal(5 * MiB);
    expect(child(`out(binding.cudaMemory(0).maxCachedBytes);`, { ORTHO_CUDA_CACHE_MB: '0' })).to.equal(0);
  });

  // Every preset, forward and backward, on small shapes, with a few larger
  // tensors (256 to 768 KiB, about 2 MiB at once) made and freed before
  // each call, so that far more than a 1 MiB cap is freed at a time; after
  // each call the cache is measured. Answers the results (a SHA-256 of
  // each one's bytes, to compare bit for bit) and the cache's extremes.
  // The larger tensors are copied from the host (no kernels: the emulator
  // runs kernels slowly).
  const WORKLOAD = `
    const { Tensor, PRESETS } = ortho;
    const { createHash } = await import('node:crypto');
    const shapes = [[4, 32, 32], [3, 17, 9], [2, 9, 17], [64, 48], [2, 40, 70]];
    const results = [];
    let maxCached = 0, maxLive = 0, calls = 0;
    const measure = () => {
      const m = binding.cudaMemory(0);
      maxCached = Math.max(maxCached, m.cachedBytes);
      maxLive = Math.max(maxLive, m.liveBytes);
      calls++;
    };
    const keep = (t) => {
      results.push(createHash('sha256').update(t.toTypedArray()).digest('hex'));
      t.dispose();
    };
    let k = 0;
    for (const [name, params] of Object.entries(PRESETS)) {
      for (const shape of shapes) {
        k++;
        const large = [0, 1, 2, 3].map((j) => Tensor.from(new Float32Array(65536 * (1 + ((k + j) % 3))).fill(j), [256, 256 * (1 + ((k + j) % 3))], { device: 'cuda' }));
        measure();
        for (const t of large) t.dispose();
        measure();
        const dtype = k % 2 ? 'float64' : 'float32';
        const m = params.build(shape, { requiresGrad: true, seed: k });
        const x = Tensor.randn(shape, { dtype, seed: k, device: 'cuda' });
        const g = Tensor.randn(shape, { dtype, seed: k + 100, device: 'cuda' });
        try {
          const y = k % 2 ? m.forwardSync(x) : await m.forward(x);
          measure();
          const gx = m.backwardSync(g);
          measure();
          keep(y);
          keep(gx);
        } catch (e) {
          if (e.code !== 'ERR_ORTHO_NOT_POSITIVE_DEFINITE') throw e;
          results.push(name + ' ' + e.code);
        }
        m.dispose();
        x.dispose();
        g.dispose();
        measure();
      }
    }
    const end = binding.cudaMemory(0);
    out({ results, maxCached, maxLive, calls, end });`;

  let runs;
  before(function () {
    runs = {
      default: child(WORKLOAD, { ORTHO_CUDA_CACHE_MB: undefined }),
      one: child(WORKLOAD, { ORTHO_CUDA_CACHE_MB: '1' }),
      zero: child(WORKLOAD, { ORTHO_CUDA_CACHE_MB: '0' }),
    };
  });

  it('a 1 MiB cap holds while far more than 1 MiB is freed', () => {
    const r = runs.one;
    expect(r.maxLive, 'live at once: more than the cap').to.be.above(1.5 * MiB);
    expect(r.maxCached).to.be.at.most(MiB);
    expect(r.end.cachedBytes).to.be.at.most(MiB);
    expect(r.maxCached, 'the cache is used up to its cap').to.be.above(0);
    expect(runs.default.maxCached, 'the default cap keeps more').to.be.above(MiB);
    expect(runs.default.end.maxCachedBytes).to.be.above(runs.default.maxLive);
  });

  it('a cap of 0 caches nothing', () => {
    expect(runs.zero.maxCached).to.equal(0);
    expect(runs.zero.end.cachedBytes).to.equal(0);
  });

  it('results are the same, bit for bit, under every cap', () => {
    expect(runs.default.results.length).to.be.above(40);
    expect(runs.one.results).to.deep.equal(runs.default.results);
    expect(runs.zero.results).to.deep.equal(runs.default.results);
  });

  it('the device holds only live and cached blocks: those beyond the cap are given back (emulator)', function () {
    if (!emulated) this.skip();
    for (const r of Object.values(runs)) {
      expect(r.end.deviceTotalBytes - r.end.deviceFreeBytes).to.equal(r.end.liveBytes + r.end.cachedBytes);
    }
  });

  it('a full device empties the cache and retries; what cannot fit throws ERR_ORTHO_OUT_OF_MEMORY (emulator)', function () {
    if (!emulated) this.skip();
    // A 64 MiB device: six 8 MiB blocks freed into the cache, then a 40 MiB
    // block fits only once the cache is emptied; 80 MiB never fits. (Made
    // from host arrays: copies, no kernels.)
    const body = `
      const { Tensor } = ortho;
      const mem = () => binding.cudaMemory(0);
      const make = (rows) => Tensor.from(new Float32Array(rows * 1024), [rows, 1024], { device: 'cuda' });
      const small = Array.from({ length: 6 }, () => make(2048));
      for (const t of small) t.dispose();
      const afterFree = mem();
      const big = make(10240);
      const afterBig = mem();
      const sum = big.toTypedArray().reduce((a, b) => a + b, 0);
      big.dispose();
      let error = null;
      try {
        make(20480);
      } catch (e) {
        error = { code: e.code, message: e.message };
      }
      out({ afterFree, afterBig, sum, error });`;
    const r = child(body, { ORTHO_EMU_DEVICE_MB: '64', ORTHO_CUDA_CACHE_MB: '64' });
    expect(r.afterFree.cachedBytes).to.equal(48 * MiB);
    expect(r.afterBig.cachedBytes).to.equal(0);
    expect(r.afterBig.liveBytes).to.equal(40 * MiB);
    expect(r.sum).to.equal(0);
    expect(r.error?.code).to.equal('ERR_ORTHO_OUT_OF_MEMORY');
    expect(r.error.message).to.match(/out of memory allocating 83886080 bytes/);
    // With the default cap, a quarter of this 64 MiB device, the six blocks
    // leave 16 MiB cached and give the rest back.
    const capped = child(`
      const small = Array.from({ length: 6 }, () => ortho.Tensor.from(new Float32Array(2048 * 1024), [2048, 1024], { device: 'cuda' }));
      for (const t of small) t.dispose();
      out(binding.cudaMemory(0));`, { ORTHO_EMU_DEVICE_MB: '64', ORTHO_CUDA_CACHE_MB: undefined });
    expect(capped.cachedBytes).to.equal(16 * MiB);
    expect(capped.deviceTotalBytes - capped.deviceFreeBytes).to.equal(16 * MiB + capped.liveBytes);
  });
});
