// The run-time loader of native/cuda/libs.cpp against NVIDIA's real CUDA 13
// libraries, on any machine: cuBLAS and cuSOLVER load and report their
// versions without a GPU. The libraries come from NVIDIA's PyPI wheels
// (tools/cuda-libs/extract.py unpacks them; the wheels are read, never
// installed); where the wheels, python3 or the CUDA backend are missing,
// these tests are pending and say why. Each case runs in a child process,
// since the loader searches once per process.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from './00.setup.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FILES = ['libcublasLt.so.13', 'libcublas.so.13', 'libnvJitLink.so.13', 'libcusparse.so.12', 'libcusolver.so.12'];

/** cudaLibraries() (and backends()) in a fresh process with `env` on top of a bare environment. */
function probe(env) {
  const script = `const b = require('node-gyp-build')(${JSON.stringify(root)});
    console.log(JSON.stringify({ libs: b.cudaLibraries(), cuda: b.backends().find((x) => x.name === 'cuda') }));`;
  // A bare environment: no CUDA_HOME, VIRTUAL_ENV, ... from the caller.
  const base = { PATH: process.env.PATH, HOME: env.HOME ?? os.tmpdir(), LD_LIBRARY_PATH: '' };
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...base, ...env }, encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0) throw new Error(`probe failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

describe('CUDA libraries: the run-time loader against the real cuBLAS and cuSOLVER', function () {
  this.timeout(300000);
  let dir; // folder with the five libraries
  let versions; // the wheels' versions, e.g. { cublas: '13.1.1.3', cusolver: '12.0.4.66', ... }
  let tmp;
  let elsewhere; // the loader finds libraries without our help (a GPU machine)

  before(function () {
    const built = probe({});
    if (!built.libs.built) this.skip(); // CPU-only addon: nothing to load
    elsewhere = built.libs.ok;
    const cache = path.join(os.tmpdir(), 'orthogonium-cuda-libs');
    const r = spawnSync('python3', [path.join(root, 'tools/cuda-libs/extract.py'), cache, 'libs'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      console.log(`      (pending: NVIDIA's cuBLAS/cuSOLVER wheels not unpacked: ${r.error?.message ?? r.stderr.trim()})`);
      this.skip();
    }
    ({ dir, versions } = JSON.parse(r.stdout));
    dir = path.join(dir, 'lib');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ortho-libs-'));
  });

  after(function () {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** A folder holding links to `files` of the unpacked libraries. */
  function folder(rel, files = FILES) {
    const d = path.join(tmp, rel);
    fs.mkdirSync(d, { recursive: true });
    for (const f of files) fs.symlinkSync(path.join(dir, f), path.join(d, f));
    return d;
  }

  /** "13.1.1.3" -> "13.1.1": what cublasGetProperty / cusolverGetProperty report. */
  const short = (v) => v.split('.').slice(0, 3).join('.');

  function expectLoadedFrom(r, d) {
    expect(r.libs.ok, r.libs.reason).to.equal(true);
    expect(r.libs.versions).to.equal(`cuBLAS ${short(versions.cublas)}, cuSOLVER ${short(versions.cusolver)} (CUDA 13 libraries)`);
    expect(r.libs.files).to.have.length(FILES.length);
    if (!elsewhere) r.libs.files.forEach((f, i) => expect(f).to.equal(path.join(d, FILES[i])));
  }

  it('ORTHO_CUDA_LIB_DIR: every entry point resolves, versions as the wheels say', function () {
    const d = folder('named');
    expectLoadedFrom(probe({ ORTHO_CUDA_LIB_DIR: d }), d);
  });

  it("a pip wheel layout: <venv>/lib/python3.X/site-packages/nvidia/cu13/lib", function () {
    const venv = path.join(tmp, 'venv');
    const d = folder('venv/lib/python3.11/site-packages/nvidia/cu13/lib');
    expectLoadedFrom(probe({ VIRTUAL_ENV: venv }), d);
  });

  it('a toolkit layout: $CUDA_HOME/lib64', function () {
    const home = path.join(tmp, 'cuda');
    const d = folder('cuda/lib64');
    expectLoadedFrom(probe({ CUDA_HOME: home }), d);
  });

  it('a missing library: the reason names the file and where it was looked for, and CPU work goes on', function () {
    if (elsewhere) this.skip(); // the libraries are installed here: nothing would be missing
    const d = folder('partial', FILES.filter((f) => f !== 'libcusolver.so.12'));
    const r = probe({ ORTHO_CUDA_LIB_DIR: d });
    expect(r.libs.ok).to.equal(false);
    expect(r.libs.reason).to.include('libcusolver.so.12').and.include('ORTHO_CUDA_LIB_DIR').and.include(d);
    expect(r.libs.reason).to.match(/set ORTHO_CUDA_LIB_DIR/);
    expect(r.cuda.available).to.equal(false);
  });

  it('without a GPU, backends() still gives the reason CUDA is off, with the libraries found', function () {
    const r = probe({ ORTHO_CUDA_LIB_DIR: folder('nogpu') });
    if (r.cuda.available) this.skip(); // a GPU machine: the CUDA suite covers it
    expect(r.cuda.reason).to.be.a('string').and.not.equal('');
    expect(r.cuda.reason).to.not.include('cuBLAS/cuSOLVER could not be loaded');
  });
});
