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

// scripts/cpu-fit.js: a binary compiled for instructions this CPU lacks is
// refused before it is loaded (loaded, it would die of SIGILL).
describe('CPU fit of the native binary', function () {
  const path = require('node:path');
  const fs = require('node:fs');
  const os = require('node:os');
  const fit = require('../scripts/cpu-fit.js');
  // /proc/cpuinfo flag lines of a Haswell (x86-64-v3) and of a Westmere / Goldmont-class CPU (v2, no AVX)
  const HASWELL = 'processor\t: 0\nflags\t\t: fpu sse sse2 pni ssse3 cx16 sse4_1 sse4_2 popcnt lahf_lm movbe xsave avx f16c fma abm bmi1 avx2 bmi2\n';
  const WESTMERE = 'processor\t: 0\nflags\t\t: fpu sse sse2 pni ssse3 cx16 sse4_1 sse4_2 popcnt lahf_lm\n';
  const prebuilt = path.join(fit.ROOT, 'prebuilds', 'linux-x64', 'orthogonium-node.napi.node');

  it('reads the flags and names the features a level needs that a CPU lacks', function () {
    expect(fit.missingFor('x86-64-v3', fit.parseFlags(HASWELL))).to.deep.equal([]);
    expect(fit.missingFor('x86-64-v3', fit.parseFlags(WESTMERE))).to.deep.equal(['avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe', 'xsave']);
    expect(fit.missingFor('x86-64-v2', fit.parseFlags(WESTMERE))).to.deep.equal([]);
    expect(fit.missingFor('x86-64-v4', fit.parseFlags(HASWELL))).to.include('avx512f');
    expect(fit.missingFor('native', fit.parseFlags(WESTMERE))).to.deep.equal([]); // built on the machine itself
    expect(fit.missingFor('x86-64-v3', null)).to.deep.equal([]); // flags unknown (not Linux x64): no verdict
    expect(fit.parseFlags('no flags here')).to.equal(null);
  });

  it('a prebuilt binary (x86-64-v3) does not fit a CPU without AVX2; the message says what to do', function () {
    if (process.arch !== 'x64') this.skip();
    expect(fit.whyNotFit(prebuilt, fit.parseFlags(HASWELL))).to.equal(null);
    const why = fit.whyNotFit(prebuilt, fit.parseFlags(WESTMERE));
    expect(why).to.contain('avx2').and.contain('fma').and.contain('the prebuilt binary').and.contain('npm rebuild orthogonium-node');
  });

  it("a local build is judged by the level CMake recorded beside it (wherever the package lies)", function () {
    // a folder named prebuilds above the package does not make a build prebuilt
    const top = fs.mkdtempSync(path.join(os.tmpdir(), 'ortho-fit-'));
    const dir = path.join(top, 'prebuilds', 'app', 'build', 'Release');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'orthogonium.node');
    const westmere = fit.parseFlags(WESTMERE);
    try {
      expect(fit.whyNotFit(file, westmere), 'no record: CMake default').to.contain('x86-64-v3');
      fs.writeFileSync(path.join(dir, fit.ARCH_FILE), '\n'); // the compiler's default
      expect(fit.whyNotFit(file, westmere)).to.equal(null);
      fs.writeFileSync(path.join(dir, fit.ARCH_FILE), 'x86-64-v2\n');
      expect(fit.whyNotFit(file, westmere)).to.equal(null);
      fs.writeFileSync(path.join(dir, fit.ARCH_FILE), 'x86-64-v3\n');
      expect(fit.whyNotFit(file, westmere)).to.contain(`the build in ${dir}`);
    } finally {
      fs.rmSync(top, { recursive: true, force: true });
    }
  });

  it('the install hook compiles for the compiler default on such a CPU, unless ORTHO_CPU_ARCH says otherwise', function () {
    expect(fit.buildArch({}, fit.parseFlags(WESTMERE))).to.equal('');
    expect(fit.buildArch({}, fit.parseFlags(HASWELL))).to.equal(undefined); // CMake's default
    expect(fit.buildArch({ ORTHO_CPU_ARCH: 'native' }, fit.parseFlags(WESTMERE))).to.equal('native');
    expect(fit.buildArch({ ORTHO_CPU_ARCH: '' }, fit.parseFlags(HASWELL))).to.equal('');
  });

  it('this build records its level, and that level fits this machine', function () {
    const file = require('node-gyp-build').resolve(path.join(path.dirname(require.resolve('../package.json'))));
    if (!fit.isPrebuilt(file))
      expect(fs.readFileSync(path.join(path.dirname(file), fit.ARCH_FILE), 'utf8').trim()).to.equal(fit.binaryArch(file));
    expect(fit.whyNotFit(file)).to.equal(null);
  });

  it('the install hook keeps a binary that loads when ORTHO_* is set but cmake-js is absent (a registry install)', function () {
    const root = path.dirname(require.resolve('../package.json'));
    const real = require('node-gyp-build').resolve(root);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortho-install-'));
    try {
      // the installed package: no lib/ (nothing to compile with tsc), node-gyp-build only, no cmake-js
      for (const rel of ['package.json', 'scripts/install.js', 'scripts/cpu-fit.js']) fs.cpSync(path.join(root, rel), path.join(dir, rel));
      fs.mkdirSync(path.join(dir, 'node_modules'));
      fs.symlinkSync(path.join(root, 'node_modules', 'node-gyp-build'), path.join(dir, 'node_modules', 'node-gyp-build'), 'dir');
      fs.mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
      fs.copyFileSync(real, path.join(dir, 'build', 'Release', 'orthogonium.node'));
      fs.writeFileSync(path.join(dir, 'build', 'Release', fit.ARCH_FILE), `${fit.binaryArch(real)}\n`);
      const install = (env) => require('node:child_process').spawnSync(process.execPath, ['scripts/install.js'], {
        cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: os.tmpdir(), ...env },
      });
      const kept = install({ ORTHO_CUDA: 'OFF' });
      expect(kept.status, kept.stderr).to.equal(0);
      expect(kept.stderr).to.contain('keeping the binary that loads');
      expect(install({}).status).to.equal(0);
      fs.rmSync(path.join(dir, 'build'), { recursive: true });
      const none = install({ ORTHO_CUDA: 'OFF' });
      expect(none.status).to.equal(1);
      expect(none.stderr).to.contain('no prebuilt binary fits this platform and cmake-js is not installed');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the package refuses a binary this CPU cannot run with ERR_ORTHO_DEVICE, without loading it', function () {
    // A copy of the package whose build says x86-64-v4 (AVX-512); only on a host without AVX-512.
    const flags = fit.hostFlags();
    if (!flags || flags.has('avx512f')) this.skip();
    const root = path.dirname(require.resolve('../package.json'));
    const real = require('node-gyp-build').resolve(root);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortho-fit-pkg-'));
    try {
      for (const rel of ['package.json', 'dist', 'bin', 'scripts/cpu-fit.js']) fs.cpSync(path.join(root, rel), path.join(dir, rel), { recursive: true });
      fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
      fs.mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
      fs.copyFileSync(real, path.join(dir, 'build', 'Release', 'orthogonium.node'));
      fs.writeFileSync(path.join(dir, 'build', 'Release', fit.ARCH_FILE), 'x86-64-v4\n');
      const script = `try { require(${JSON.stringify(dir)}); console.log('loaded'); } catch (e) {
        const loaded = Object.keys(require.cache).some((k) => k.endsWith('.node'));
        console.log(JSON.stringify({ code: e.code, message: e.message, loaded })); }`;
      const r = require('node:child_process').spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, PREBUILDS_ONLY: '' } });
      const out = JSON.parse(r.stdout.trim());
      expect(out.code).to.equal('ERR_ORTHO_DEVICE');
      expect(out.message).to.contain('avx512f').and.contain('x86-64-v4');
      expect(out.loaded).to.equal(false);
      // the command line says so in its error format, exit 1, no stack trace
      const cli = require('node:child_process').spawnSync(process.execPath, [path.join(dir, 'bin', 'orthogonium.js'), 'info'], {
        encoding: 'utf8', env: { ...process.env, PREBUILDS_ONLY: '' },
      });
      expect(cli.status).to.equal(1);
      expect(cli.stderr).to.match(/^error \[ERR_ORTHO_DEVICE\]: orthogonium-node cannot use the cpu: this CPU lacks avx512f/);
      expect(cli.stderr).to.not.contain('    at ');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
