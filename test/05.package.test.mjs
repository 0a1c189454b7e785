// The package entry points: `import` and `require()` of the package root
// give the same API, including every name of the design's contract.
import { createRequire } from 'node:module';
import { expect, ortho } from './00.setup.mjs';

const require = createRequire(import.meta.url);

const CONTRACT = [
  'Tensor', 'backends', 'L2Normalize', 'BatchedPowerIteration', 'BatchedIdentity',
  'BatchedBjorckOrthogonalization', 'BatchedCholeskyOrthogonalization', 'BatchedExponentialOrthogonalization',
  'BatchedQROrthogonalization', 'OrthoParams', 'classParam', 'DEFAULT_ORTHO_PARAMS',
  'BJORCK_PASS_THROUGH_ORTHO_PARAMS', 'CHOLESKY_ORTHO_PARAMS', 'CHOLESKY_STABLE_ORTHO_PARAMS',
  'DEFAULT_TEST_ORTHO_PARAMS', 'EXP_ORTHO_PARAMS', 'QR_ORTHO_PARAMS', 'singularValues', 'orthogonalityError',
  'singularValuesSync', 'orthogonalityErrorSync',
];

describe('package entry points', function () {
  it('import (index.mjs) exposes every name of the contract', function () {
    for (const name of CONTRACT) expect(ortho[name], name).to.not.equal(undefined);
  });

  it('require() of the package root gives the same objects as import', function () {
    const cjs = require('orthogonium-node');
    const esmNames = Object.keys(ortho).filter((k) => k !== 'default').sort();
    expect(esmNames).to.deep.equal(Object.keys(cjs).sort());
    for (const name of esmNames) expect(ortho[name], name).to.equal(cjs[name]);
  });
});

// CPU dispatch (native/cpu/kernels.h): the addon, compiled for baseline
// x86-64, loads on any CPU and runs the kernel library of the best level
// this CPU runs, decided from CPUID and XGETBV; ORTHO_CPU_LEVEL picks another.
describe('CPU dispatch', function () {
  const path = require('node:path');
  const fs = require('node:fs');
  const os = require('node:os');
  const { spawnSync } = require('node:child_process');
  const root = path.dirname(require.resolve('../package.json'));
  const LEVELS = ['baseline', 'v2', 'v3', 'v4'];
  const cpu = ortho.backends().find((b) => b.name === 'cpu');
  const dispatch = process.platform === 'linux' && process.arch === 'x64' && cpu.levels.length > 1;
  // The features each level adds (the x86-64 psABI), as /proc/cpuinfo names them.
  const NEEDS = {
    v2: ['cx16', 'lahf_lm', 'popcnt', 'pni', 'ssse3', 'sse4_1', 'sse4_2'],
    v3: ['avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe', 'xsave'],
    v4: ['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl'],
  };
  const cpuinfoFlags = () => {
    try {
      const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
      return line ? new Set(line.split(':')[1].trim().split(/\s+/)) : null;
    } catch {
      return null;
    }
  };
  // Runs `script` in a child Node with the package at `dir` and `env` added.
  // The environment of a child: this one without ORTHO_CPU_LEVEL (the suite
  // may itself run at a forced level), plus `env`.
  const childEnv = (env = {}) => {
    const e = { ...process.env };
    delete e.ORTHO_CPU_LEVEL;
    return { ...e, ...env };
  };
  const child = (dir, script, env = {}) => spawnSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8', env: childEnv(env) });
  // What a child prints about the CPU backend and one Björck forward
  // checked against the identity QᵀQ = I (float64, an independent check).
  const PROBE = `
    const o = require('./');
    const cpu = o.backends().find((b) => b.name === 'cpu');
    const out = { available: cpu.available, level: cpu.level, reason: cpu.reason };
    try {
      const w = o.Tensor.randn([8, 48, 32], { seed: 3, dtype: 'float64' });
      const q = o.DEFAULT_TEST_ORTHO_PARAMS.build([8, 48, 32]).forwardSync(w).toTypedArray();
      let worst = 0;
      for (let b = 0; b < 8; ++b) for (let i = 0; i < 32; ++i) for (let j = 0; j < 32; ++j) {
        let s = 0;
        for (let r = 0; r < 48; ++r) s += q[b * 1536 + r * 32 + i] * q[b * 1536 + r * 32 + j];
        worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
      }
      out.worst = worst;
      out.q = Array.from(q.slice(0, 64));
    } catch (e) { out.code = e.code; out.message = e.message; }
    console.log(JSON.stringify(out));`;
  const probe = (dir, env) => {
    const r = child(dir, PROBE, env);
    expect(r.status, r.stderr).to.equal(0);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  };

  it('backends() names the kernels in use, the levels built and the CPU level', function () {
    expect(cpu.available).to.equal(true);
    expect(cpu.levels).to.include(cpu.level);
    if (process.arch !== 'x64') return;
    expect(LEVELS).to.include(cpu.cpuLevel);
    // the default is the best level built that this CPU runs (unless forced)
    const runnable = cpu.levels.filter((l) => LEVELS.indexOf(l) <= LEVELS.indexOf(cpu.cpuLevel));
    expect(cpu.level).to.equal(process.env.ORTHO_CPU_LEVEL || runnable[runnable.length - 1]);
  });

  it('CPUID reports at least the level features /proc/cpuinfo shows (which may hide some)', function () {
    const flags = cpuinfoFlags();
    if (process.arch !== 'x64' || !flags) this.skip();
    const name = { pni: 'sse3', abm: 'lzcnt', xsave: 'osxsave' };
    for (const [level, needs] of Object.entries(NEEDS)) {
      const shown = needs.filter((f) => flags.has(f));
      for (const f of shown) expect(cpu.features, `${f} (${level})`).to.include(name[f] ?? f);
      if (shown.length === needs.length) expect(LEVELS.indexOf(cpu.cpuLevel), level).to.be.at.least(LEVELS.indexOf(level));
    }
  });

  it('every level this CPU runs gives orthogonal results, and the levels agree', function () {
    if (!dispatch) this.skip();
    const runnable = cpu.levels.filter((l) => LEVELS.indexOf(l) <= LEVELS.indexOf(cpu.cpuLevel));
    const results = runnable.map((level) => ({ asked: level, ...probe(root, { ORTHO_CPU_LEVEL: level }) }));
    for (const r of results) {
      expect(r.level, r.reason).to.equal(r.asked);
      expect(r.available, r.reason).to.equal(true);
      expect(r.worst, r.level).to.be.below(1e-10);
    }
    // the same float64 algorithm: equal to rounding differences (FMA, vector widths)
    for (const r of results.slice(1))
      for (let i = 0; i < 64; ++i) expect(Math.abs(r.q[i] - results[0].q[i]), `${r.level} vs ${results[0].level}`).to.be.below(1e-12);
  });

  it('ORTHO_CPU_LEVEL: a level the CPU lacks, an unknown name or a level not built is a clear error, not a crash', function () {
    if (!dispatch) this.skip();
    const above = LEVELS[LEVELS.indexOf(cpu.cpuLevel) + 1];
    if (above) {
      const r = probe(root, { ORTHO_CPU_LEVEL: above });
      expect(r.available).to.equal(false);
      expect(r.code).to.equal('ERR_ORTHO_DEVICE');
      expect(r.message).to.contain('this CPU or its OS lacks').and.contain(above === 'v4' ? 'avx512f' : 'avx');
    }
    const bogus = probe(root, { ORTHO_CPU_LEVEL: 'avx9' });
    expect(bogus.code).to.equal('ERR_ORTHO_INVALID_ARG');
    expect(bogus.message).to.contain('ORTHO_CPU_LEVEL=avx9 is not a level');
    const notBuilt = LEVELS.find((l) => !cpu.levels.includes(l) && LEVELS.indexOf(l) <= LEVELS.indexOf(cpu.cpuLevel));
    if (notBuilt) {
      const r = probe(root, { ORTHO_CPU_LEVEL: notBuilt });
      expect(r.code).to.equal('ERR_ORTHO_DEVICE');
      expect(r.message).to.contain('was not built');
    }
  });

  // A copy of the package with some kernel libraries removed.
  const withLibraries = (keep, fn) => {
    const real = require('node-gyp-build').resolve(root);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortho-dispatch-'));
    try {
      for (const rel of ['package.json', 'dist', 'bin', 'index.mjs']) fs.cpSync(path.join(root, rel), path.join(dir, rel), { recursive: true });
      fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
      const rel = path.join(dir, 'build', 'Release');
      fs.mkdirSync(rel, { recursive: true });
      fs.copyFileSync(real, path.join(rel, 'orthogonium.node'));
      for (const level of keep) fs.copyFileSync(path.join(path.dirname(real), `orthogonium-cpu-${level}.so`), path.join(rel, `orthogonium-cpu-${level}.so`));
      fn(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };

  it('a missing kernel library falls back to the next level; none at all is ERR_ORTHO_DEVICE', function () {
    if (!dispatch || !cpu.levels.includes('baseline')) this.skip();
    withLibraries(['baseline'], (dir) => {
      const r = probe(dir, { PREBUILDS_ONLY: '' });
      expect(r.available, r.reason).to.equal(true);
      expect(r.level).to.equal('baseline');
      expect(r.worst).to.be.below(1e-10);
    });
    withLibraries([], (dir) => {
      const r = probe(dir, { PREBUILDS_ONLY: '' });
      expect(r.available).to.equal(false);
      expect(r.code).to.equal('ERR_ORTHO_DEVICE');
      expect(r.message).to.contain('the CPU kernels could not be loaded').and.contain('orthogonium-cpu-');
      // the command line says so in its error format, exit 1, no stack trace
      const cli = spawnSync(process.execPath, [path.join(dir, 'bin', 'orthogonium.js'), 'demo'], {
        encoding: 'utf8', env: childEnv({ PREBUILDS_ONLY: '' }),
      });
      expect(cli.status).to.equal(1);
      expect(cli.stderr).to.match(/^error \[ERR_ORTHO_DEVICE\]: orthogonium-node cannot use the cpu: the CPU kernels could not be loaded/);
      expect(cli.stderr).to.not.contain('    at ');
    });
  });

  it('the addon itself holds no instruction above baseline x86-64 (no AVX, no AVX-512 registers)', function () {
    if (!dispatch) this.skip();
    const objdump = spawnSync('objdump', ['--version']);
    if (objdump.status !== 0) this.skip();
    const real = require('node-gyp-build').resolve(root);
    const count = (file, re) => {
      const r = spawnSync('objdump', ['-d', '--no-show-raw-insn', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
      return (r.stdout.match(re) || []).length;
    };
    // ymm/zmm registers or VEX/EVEX-only mnemonics in the addon: none.
    expect(count(real, /%[yz]mm\d+|\bv(fmadd|broadcast|perm|pbroadcast)\w*/g)).to.equal(0);
    // and the v4 library does use AVX-512 (zmm) registers, the v3 one ymm
    const lib = (level) => path.join(path.dirname(real), `orthogonium-cpu-${level}.so`);
    if (cpu.levels.includes('v4')) expect(count(lib('v4'), /%zmm\d+/g)).to.be.above(1000);
    if (cpu.levels.includes('v3')) expect(count(lib('v3'), /%ymm\d+/g)).to.be.above(1000);
    if (cpu.levels.includes('baseline')) expect(count(lib('baseline'), /%[yz]mm\d+/g)).to.equal(0);
  });

  // Other CPUs, emulated: qemu-x86_64 (Debian's qemu-user) runs this Node and
  // the addon as a CPU model without AVX (qemu64: SSE2 and SSE3 only;
  // Nehalem: x86-64-v2) or with AVX2 + FMA (Haswell). CPUID answers for the
  // model, and an instruction the model lacks would kill the process.
  for (const [model, expected] of [['qemu64', 'baseline'], ['Nehalem', 'v2'], ['Haswell', 'v3']]) {
    it(`under qemu-x86_64 -cpu ${model}: CPU level ${expected}, no SIGILL, orthogonal results`, function () {
      if (!dispatch || spawnSync('qemu-x86_64', ['--version']).status !== 0) this.skip();
      this.timeout(300000);
      const r = spawnSync('qemu-x86_64', ['-cpu', model, process.execPath, '-e', PROBE.replace("cpu.level,", "cpu.level, cpuLevel: cpu.cpuLevel,")], {
        cwd: root, encoding: 'utf8', env: childEnv(),
      });
      expect(r.signal, r.stderr).to.equal(null);
      expect(r.status, r.stderr).to.equal(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop());
      expect(out.cpuLevel).to.equal(expected);
      const runnable = cpu.levels.filter((l) => LEVELS.indexOf(l) <= LEVELS.indexOf(expected));
      expect(out.level).to.equal(runnable[runnable.length - 1]);
      expect(out.worst).to.be.below(1e-10);
    });
  }

  it('the install hook keeps a binary that loads when ORTHO_* is set but the build tools are absent', function () {
    const real = require('node-gyp-build').resolve(root);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortho-install-'));
    try {
      // the installed package: no lib/ (nothing to compile with tsc), node-gyp-build only, no cmake-js
      for (const rel of ['package.json', 'scripts/install.js']) fs.cpSync(path.join(root, rel), path.join(dir, rel));
      fs.mkdirSync(path.join(dir, 'node_modules'));
      fs.symlinkSync(path.join(root, 'node_modules', 'node-gyp-build'), path.join(dir, 'node_modules', 'node-gyp-build'), 'dir');
      fs.mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
      for (const f of fs.readdirSync(path.dirname(real)).filter((f) => f.endsWith('.node') || f.endsWith('.so')))
        fs.copyFileSync(path.join(path.dirname(real), f), path.join(dir, 'build', 'Release', f));
      const install = (env) => spawnSync(process.execPath, ['scripts/install.js'], {
        cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: os.tmpdir(), ...env },
      });
      const kept = install({ ORTHO_CUDA: 'OFF' });
      expect(kept.status, kept.stderr).to.equal(0);
      expect(kept.stderr).to.contain('keeping the binary that loads');
      expect(install({}).status).to.equal(0);
      fs.rmSync(path.join(dir, 'build'), { recursive: true });
      const none = install({ ORTHO_CUDA: 'OFF' });
      expect(none.status).to.equal(1);
      expect(none.stderr).to.contain('no prebuilt binary works on this platform').and.contain('apt-get install -y g++ cmake libeigen3-dev');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Option defaults live in the native module registry
// (native/ops/module_registry.h) and nowhere else: the TypeScript classes
// read them from it. What the API reference promises ("Defaults to `x`" in
// lib/modules/*.ts, written by hand) must be what the registry holds, and
// every registered default must be documented.
describe('module option defaults', function () {
  const fs = require('node:fs');
  const path = require('node:path');
  const root = path.dirname(require.resolve('../package.json'));
  const { binding } = require('../dist/native.js');
  const registry = binding.moduleDefaults();
  const FILES = {
    'base.ts': null, // the options every module takes: every kind
    'bjorck.ts': 'bjorck',
    'cholesky.ts': 'cholesky',
    'exponential.ts': 'exponential',
    'l2-normalize.ts': 'l2normalize',
    'polar.ts': 'polar',
    'power-iteration.ts': 'power_iteration',
    'qr.ts': 'qr',
    'identity.ts': 'identity',
  };
  // { kind: { option: documented default text } } from the TSDoc comment
  // right above each `option?:` line.
  function documented() {
    const docs = {};
    for (const [file, kind] of Object.entries(FILES)) {
      const text = fs.readFileSync(path.join(root, 'lib', 'modules', file), 'utf8');
      for (const m of text.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*(\w+)\?:/g)) {
        const d = /Defaults to `([^`]+)`/.exec(m[1].replace(/\s*\n\s*\*\s*/g, ' '));
        if (!d) continue;
        for (const k of kind ? [kind] : Object.keys(registry)) (docs[k] ??= {})[m[2]] = d[1];
      }
    }
    return docs;
  }

  it('every module kind is registered, and each class builds the kind it names', function () {
    expect(Object.keys(registry).sort()).to.deep.equal(
      ['bjorck', 'cholesky', 'exponential', 'identity', 'l2normalize', 'polar', 'power_iteration', 'qr']);
  });

  it('the documented defaults are the registered ones, and every registered default is documented', function () {
    // The sources are not in a package copy (npm run test-prebuild); the main suite runs this.
    if (!fs.existsSync(path.join(root, 'lib', 'modules'))) this.skip();
    const docs = documented();
    for (const [kind, defaults] of Object.entries(registry)) {
      for (const [name, value] of Object.entries(defaults)) {
        const text = docs[kind]?.[name];
        expect(text, `${kind}.${name}: no "Defaults to" in lib/modules`).to.be.a('string');
        const parsed = /^'.*'$/.test(text) ? text.slice(1, -1) : JSON.parse(text);
        expect(parsed, `${kind}.${name}`).to.equal(value);
      }
    }
    // the other way round: a documented default the registry lacks
    for (const [kind, opts] of Object.entries(docs))
      for (const name of Object.keys(opts))
        if (!(kind === 'polar' && name === 'tol')) // tol's default depends on the dtype: native, by dtype
          expect(registry[kind], `${kind}.${name} documented but not registered`).to.have.property(name);
  });

  it("the registered defaults are orthogonium's (its constructors' signatures)", function () {
    // BatchedBjorckOrthogonalization(weight_shape, beta=0.5, niters=12, pass_through=False),
    // BatchedCholeskyOrthogonalization(weight_shape, stable=False),
    // BatchedExponentialOrthogonalization(weight_shape, niters=7),
    // BatchedPowerIteration(weight_shape, power_it_niter=3, eps=1e-12)
    expect(registry.bjorck).to.include({ beta: 0.5, niters: 12, passThrough: false });
    expect(registry.cholesky).to.include({ stable: false });
    expect(registry.exponential).to.include({ niters: 7 });
    expect(registry.power_iteration).to.include({ powerItNiter: 3, eps: 1e-12 });
    for (const d of Object.values(registry)) expect(d.requiresGrad).to.equal(false);
  });

  it('a module built without options reports the registered defaults', function () {
    const d = registry;
    const bj = new ortho.BatchedBjorckOrthogonalization([4, 3]);
    expect([bj.beta, bj.niters, bj.passThrough, bj.requiresGrad]).to.deep.equal(
      [d.bjorck.beta, d.bjorck.niters, d.bjorck.passThrough, d.bjorck.requiresGrad]);
    expect(new ortho.BatchedExponentialOrthogonalization([4, 3]).niters).to.equal(d.exponential.niters);
    expect(new ortho.BatchedCholeskyOrthogonalization([4, 3]).stable).to.equal(d.cholesky.stable);
    const pi = new ortho.BatchedPowerIteration([4, 3]);
    expect([pi.powerItNiter, pi.eps]).to.deep.equal([d.power_iteration.powerItNiter, d.power_iteration.eps]);
    const po = new ortho.BatchedPolarOrthogonalization([4, 3]);
    expect([po.maxIters, po.lowerBound, po.onStall]).to.deep.equal([d.polar.maxIters, d.polar.lowerBound, d.polar.onStall]);
  });
});
