// Helpers for the command-line tests (imported by test/60.cli*.test.mjs; not
// a spec file). Files are built here from the formats' descriptions, byte by
// byte, without the code under test, and outputs are decoded and checked
// with the small independent routines below.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(ROOT, 'bin', 'orthogonium.js');

/** A fresh temporary directory, removed by the returned cleanup(). */
export function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orthogonium-cli-'));
  return { dir, file: (name) => path.join(dir, name), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Runs the CLI to completion: { status, signal, stdout, stderr }. */
export function cli(args, { env = {}, cwd = ROOT } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the CLI; `waitFor(re)` resolves once stderr matches; `exited` resolves to { code, signal, stderr }. */
export function cliProcess(args, { env = {} } = {}) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const waiters = [];
  child.stderr.on('data', (d) => {
    stderr += d;
    for (const w of waiters) if (w.re.test(stderr)) w.resolve(stderr);
  });
  child.stdout.resume();
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  return {
    child,
    exited,
    waitFor: (re) =>
      new Promise((resolve, reject) => {
        if (re.test(stderr)) return resolve(stderr);
        waiters.push({ re, resolve });
        exited.then(() => reject(new Error(`the process exited before stderr matched ${re}: ${stderr}`)));
      }),
  };
}

export const sha256 = (file) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

// --- seeded values ---------------------------------------------------------

/** xorshift32 uniform [0, 1) and normal samplers. */
export function rng(seed) {
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  return { uniform, normal: () => Math.sqrt(-2 * Math.log(Math.max(uniform(), 1e-12))) * Math.cos(2 * Math.PI * uniform()) };
}

/** n Gaussian values (a well-conditioned matrix when it is clearly non-square). */
export function gaussian(n, seed) {
  const g = rng(seed);
  return Array.from({ length: n }, () => g.normal());
}

/** I + noise for an m × n matrix: well-conditioned even when square. */
export function nearIdentity(m, n, seed, scale = 0.2) {
  const v = gaussian(m * n, seed).map((x) => (x * scale) / Math.sqrt(n));
  for (let i = 0; i < Math.min(m, n); i++) v[i * n + i] += 1;
  return v;
}

// --- encodings, written from the IEEE 754 and bfloat16 definitions -----------

export const f32Bytes = (values) => Buffer.from(new Float32Array(values).buffer);
export const f64Bytes = (values) => Buffer.from(new Float64Array(values).buffer);

/** bfloat16 by the usual bit trick on the float32 bits: add 0x7fff + lsb, keep the high half (finite inputs). */
export function bf16Bytes(values) {
  const f = new Float32Array(values);
  const u = new Uint32Array(f.buffer);
  const out = Buffer.alloc(2 * f.length);
  for (let i = 0; i < f.length; i++) out.writeUInt16LE((((u[i] + 0x7fff + ((u[i] >>> 16) & 1)) >>> 16) & 0xffff) >>> 0, 2 * i);
  return out;
}

/** Random binary16 bit patterns with exponent field in [13, 15] (|x| in [0.25, 2)): inputs that need no encoder. */
export function randomF16Bytes(n, seed) {
  const g = rng(seed);
  const out = Buffer.alloc(2 * n);
  for (let i = 0; i < n; i++) {
    const sign = g.uniform() < 0.5 ? 0x8000 : 0;
    const exp = 13 + Math.floor(g.uniform() * 3);
    out.writeUInt16LE(sign | (exp << 10) | Math.floor(g.uniform() * 1024), 2 * i);
  }
  return out;
}

/** Value of a binary16 bit pattern, from the definition. */
export function f16Value(bits) {
  const s = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Values of a tensor's bytes. */
export function decode(dtype, bytes, littleEndian = true) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = { F32: 4, F64: 8, F16: 2, BF16: 2 }[dtype];
  const out = [];
  for (let i = 0; i < bytes.byteLength / size; i++) {
    if (dtype === 'F32') out.push(dv.getFloat32(4 * i, littleEndian));
    else if (dtype === 'F64') out.push(dv.getFloat64(8 * i, littleEndian));
    else if (dtype === 'F16') out.push(f16Value(dv.getUint16(2 * i, littleEndian)));
    else {
      const f = new Float32Array(new Uint32Array([dv.getUint16(2 * i, littleEndian) << 16]).buffer);
      out.push(f[0]);
    }
  }
  return out;
}

/** ‖WᵀW − I‖_F (m >= n) or ‖WWᵀ − I‖_F (m < n) of a row-major m × n matrix, in float64. */
export function orthError(w, m, n) {
  const tall = m >= n;
  const k = tall ? n : m;
  let sum = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      let g = 0;
      if (tall) for (let r = 0; r < m; r++) g += w[r * n + i] * w[r * n + j];
      else for (let c = 0; c < n; c++) g += w[i * n + c] * w[j * n + c];
      const d = g - (i === j ? 1 : 0);
      sum += d * d;
    }
  }
  return Math.sqrt(sum);
}

// --- safetensors, built from the format's description ------------------------
//
// 8 bytes: N, unsigned little-endian 64-bit; N bytes: a JSON object (UTF-8,
// may be space-padded) naming each tensor's dtype, shape and data_offsets
// [begin, end] relative to the data section; then the data section.

/** A safetensors file from raw header text and data bytes. */
export function safetensorsRaw(headerText, data = Buffer.alloc(0), { headerLength } = {}) {
  const json = Buffer.from(headerText, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerLength ?? json.length));
  return Buffer.concat([len, json, data]);
}

/**
 * A safetensors file holding `tensors` ([{ name, dtype, shape, bytes }]) in
 * this order, with optional metadata; the header is padded with spaces to a
 * multiple of 8 bytes.
 */
export function safetensors(tensors, metadata) {
  const entries = [];
  if (metadata) entries.push(`"__metadata__":${JSON.stringify(metadata)}`);
  let offset = 0;
  for (const t of tensors) {
    entries.push(`${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] })}`);
    offset += t.bytes.length;
  }
  let text = `{${entries.join(',')}}`;
  while (Buffer.byteLength(text) % 8 !== 0) text += ' ';
  return safetensorsRaw(text, Buffer.concat(tensors.map((t) => t.bytes)));
}

/** Reads a safetensors file independently of the code under test: { header (parsed JSON), headerBytes, tensor(name) -> bytes }. */
export function readSafetensors(file) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const start = 8 + n;
  return {
    buf,
    header,
    headerBytes: buf.subarray(0, start),
    tensor(name) {
      const [b, e] = header[name].data_offsets;
      return buf.subarray(start + b, start + e);
    },
  };
}

// --- .npy, built from NumPy's format description ------------------------------
//
// "\x93NUMPY", major, minor, header length (u16 LE in 1.0, u32 LE in 2.0),
// then a Python dict literal padded with spaces and ended by '\n' so that
// the data starts at a multiple of 64.

export function npy(descr, shape, data, { fortran = false, major = 1 } = {}) {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const pre = major === 1 ? 10 : 12;
  while ((pre + dict.length + 1) % 64 !== 0) dict += ' ';
  dict += '\n';
  const head = Buffer.alloc(pre);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]).copy(head);
  if (major === 1) head.writeUInt16LE(dict.length, 8);
  else head.writeUInt32LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, 'latin1'), data]);
}

/** The header dict text and data of an .npy file (independent of the code under test). */
export function readNpy(file) {
  const buf = fs.readFileSync(file);
  const major = buf[6];
  const len = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + len;
  return { dict: buf.subarray(major === 1 ? 10 : 12, start).toString('latin1'), data: buf.subarray(start) };
}
