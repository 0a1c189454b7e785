// A strict reader and a writer for NumPy's .npy format (versions 1.0, 2.0
// and 3.0):
//
//   6 bytes   "\x93NUMPY"
//   2 bytes   major, minor version
//   2 or 4    the header's length (little-endian; 2 bytes in version 1.0)
//   header    a Python dict literal {'descr': '<f4', 'fortran_order': False,
//             'shape': (3, 4), } padded with spaces and ended by '\n'
//             (ASCII; UTF-8 in version 3.0)
//   data      numel × itemsize bytes, nothing after them
//
// Float arrays ('f2', 'f4', 'f8', either byte order) can be computed on;
// other simple dtypes ('b1', 'i8', 'u1', 'c16', 'S10', 'U4', …) are read as
// bytes. Structured, object and datetime dtypes are refused.
import type { FileHandle } from 'node:fs/promises';
import { HOST_LE, type StorageType } from './dtype';
import { FileFormatError, IoErrorCodes } from './errors';
import { readExactly } from './files';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

/** What an .npy header says. */
export interface NpyHeader {
  readonly version: readonly [number, number];
  /** The dtype string, e.g. '<f4'. */
  readonly descr: string;
  readonly dtype: StorageType;
  readonly fortranOrder: boolean;
  readonly shape: readonly number[];
  readonly numel: number;
  /** Where the data begins (the length of everything before it). */
  readonly dataStart: number;
  readonly byteLength: number;
}

// --- A tiny parser for the Python literals the header holds. ---------------

type PyValue = string | number | boolean | null | PyValue[] | Map<string, PyValue>;

function parsePyLiteral(text: string): PyValue {
  let i = 0;
  const skip = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at character ${i} of ${JSON.stringify(text.trim())}`);
  };
  const seq = (close: string): PyValue[] => {
    const out: PyValue[] = [];
    for (;;) {
      skip();
      if (text[i] === close) {
        i++;
        return out;
      }
      out.push(value());
      skip();
      if (text[i] === ',') i++;
      else if (text[i] !== close) fail(`expected ',' or '${close}'`);
    }
  };
  const value = (): PyValue => {
    skip();
    const c = text[i];
    if (c === '{') {
      i++;
      const map = new Map<string, PyValue>();
      for (;;) {
        skip();
        if (text[i] === '}') {
          i++;
          return map;
        }
        const k = value();
        if (typeof k !== 'string') fail('expected a string key');
        if (map.has(k as string)) fail(`duplicate key '${k}'`);
        skip();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        map.set(k as string, value());
        skip();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') fail("expected ',' or '}'");
      }
    }
    if (c === '(') {
      i++;
      return seq(')');
    }
    if (c === '[') {
      i++;
      return seq(']');
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail('unterminated string');
      const s = text.slice(i + 1, end);
      if (s.includes('\\')) fail('escapes in strings are not supported');
      i = end + 1;
      return s;
    }
    const m = /^(?:True|False|None|-?\d+L?)/.exec(text.slice(i, i + 32));
    if (!m) return fail('expected a value');
    i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return Number(m[0].replace('L', ''));
  };
  const v = value();
  skip();
  if (i < text.length) fail('unexpected text after the dict');
  return v;
}

// --- dtypes --------------------------------------------------------------

/** The storage type of an .npy descr, or a message saying why it is not supported. */
export function npyDType(descr: string): StorageType | string {
  const m = /^([<>|=])([a-zA-Z])(\d+)$/.exec(descr);
  if (!m) return `dtype ${JSON.stringify(descr)} is not supported (structured, object and datetime arrays cannot be processed)`;
  const [, order, kind, sizeText] = m;
  const size = Number(sizeText);
  const littleEndian = order === '<' || (order === '=' && HOST_LE) || (order === '|' && HOST_LE);
  const itemBytes: Record<string, number | undefined> = { b: 1, i: size, u: size, f: size, c: size, S: size, a: size, V: size, U: 4 * size };
  const bytes = itemBytes[kind];
  if (bytes === undefined || bytes === 0) return `dtype ${JSON.stringify(descr)} is not supported`;
  if (kind === 'b' && size !== 1) return `dtype ${JSON.stringify(descr)} is not a valid boolean type`;
  const float = kind !== 'f' ? null : size === 2 ? 'f16' : size === 4 ? 'f32' : size === 8 ? 'f64' : null;
  if (float && order === '|') return `dtype ${JSON.stringify(descr)}: multi-byte floats need a byte order ('<' or '>')`;
  return { name: descr, bits: 8 * bytes, float, littleEndian };
}

// --- reading -------------------------------------------------------------

/**
 * Parses and checks the header at the start of `head` (the first bytes of
 * the file, at least up to the end of the header); `fileSize` is the whole
 * file's size.
 */
export function parseNpyHeader(file: string, head: Uint8Array, fileSize: number): NpyHeader {
  const bad = (problem: string, code = IoErrorCodes.FORMAT as (typeof IoErrorCodes)[keyof typeof IoErrorCodes]): never => {
    throw new FileFormatError(file, problem, code);
  };
  if (head.byteLength < 10 || !MAGIC.equals(head.subarray(0, 6))) return bad('not an .npy file (it does not begin with "\\x93NUMPY")');
  const major = head[6];
  const minor = head[7];
  if (major < 1 || major > 3) return bad(`unsupported .npy format version ${major}.${minor}`, IoErrorCodes.UNSUPPORTED);
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (head.byteLength < 8 + lenBytes) return bad('truncated: the file ends inside the header length');
  const headerLength = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const dataStart = 8 + lenBytes + headerLength;
  if (dataStart > fileSize) return bad(`bad header length ${headerLength}: the file has only ${fileSize} bytes (truncated?)`);
  if (head.byteLength < dataStart) throw new RangeError('parseNpyHeader: head must include the whole header');
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(head.subarray(8 + lenBytes, dataStart));
  } catch {
    return bad('bad header: not valid UTF-8');
  }
  if (!text.endsWith('\n')) return bad("bad header: it must end with '\\n'");
  let dict: PyValue;
  try {
    dict = parsePyLiteral(text);
  } catch (e) {
    return bad(`bad header: ${(e as Error).message}`);
  }
  if (!(dict instanceof Map)) return bad('bad header: not a dict');
  const keys = [...dict.keys()].sort().join(',');
  if (keys !== 'descr,fortran_order,shape')
    return bad(`bad header: its keys must be 'descr', 'fortran_order' and 'shape', got ${[...dict.keys()].map((k) => `'${k}'`).join(', ')}`);
  const descr = dict.get('descr');
  if (typeof descr !== 'string') return bad('bad header: descr must be a string (structured dtypes are not supported)', IoErrorCodes.UNSUPPORTED);
  const dtype = npyDType(descr);
  if (typeof dtype === 'string') return bad(dtype, IoErrorCodes.UNSUPPORTED);
  const fortranOrder = dict.get('fortran_order');
  if (typeof fortranOrder !== 'boolean') return bad('bad header: fortran_order must be True or False');
  const shape = dict.get('shape');
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0))
    return bad('bad header: shape must be a tuple of non-negative integers');
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  const byteLength = numel * (dtype.bits / 8);
  if (!Number.isSafeInteger(byteLength)) return bad(`bad header: shape (${shape.join(', ')}) is too large`);
  const available = fileSize - dataStart;
  if (available < byteLength)
    return bad(`truncated: shape (${shape.join(', ')}) of ${descr} needs ${byteLength} data bytes, the file holds ${available}`);
  if (available > byteLength)
    return bad(`${available - byteLength} bytes after the array data (shape (${shape.join(', ')}) of ${descr} needs ${byteLength})`);
  return { version: [major, minor], descr, dtype, fortranOrder, shape: shape as number[], numel, dataStart, byteLength };
}

/** Reads and checks the header of the .npy file open as `fh`. */
export async function readNpyHeader(fh: FileHandle, file: string): Promise<NpyHeader> {
  const { size } = await fh.stat();
  if (size < 10) throw new FileFormatError(file, `not an .npy file (only ${size} bytes)`);
  const pre = await readExactly(fh, file, 0, 12 <= size ? 12 : 10);
  if (!MAGIC.equals(pre.subarray(0, 6))) return parseNpyHeader(file, pre, size);
  const major = pre[6];
  const dv = new DataView(pre.buffer, pre.byteOffset, pre.byteLength);
  const len = major === 1 ? 10 + dv.getUint16(8, true) : pre.byteLength >= 12 ? 12 + dv.getUint32(8, true) : 0;
  if (len > size || len === 0) return parseNpyHeader(file, pre, size);
  return parseNpyHeader(file, await readExactly(fh, file, 0, len), size);
}

// --- writing -------------------------------------------------------------

/**
 * The bytes before the data of an .npy file: version 1.0 when the header
 * fits in 65535 bytes, else 2.0; padded so that the data starts at a multiple
 * of 64, as NumPy writes it.
 */
export function encodeNpyHeader(descr: string, shape: readonly number[], fortranOrder = false): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': ${fortranOrder ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  for (const [major, lenBytes] of [
    [1, 2],
    [2, 4],
  ] as const) {
    const unpadded = 8 + lenBytes + dict.length + 1;
    const total = Math.ceil(unpadded / 64) * 64;
    const headerLength = total - 8 - lenBytes;
    if (lenBytes === 2 && headerLength > 0xffff) continue;
    const out = Buffer.alloc(total, 0x20);
    MAGIC.copy(out, 0);
    out[6] = major;
    out[7] = 0;
    if (lenBytes === 2) out.writeUInt16LE(headerLength, 8);
    else out.writeUInt32LE(headerLength, 8);
    out.write(dict, 8 + lenBytes, 'latin1');
    out[total - 1] = 0x0a;
    return out;
  }
  throw new RangeError('unreachable');
}
