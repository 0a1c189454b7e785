// A strict reader and a streaming writer for the safetensors format:
//
//   8 bytes   N, the header's length (unsigned 64-bit little-endian)
//   N bytes   the header: a UTF-8 JSON object that begins with '{' and may be
//             padded at the end with spaces; each key names a tensor,
//             {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
//             except "__metadata__", an object of strings
//   the rest  the data section; offsets are relative to its start
//
// Checked on read, each with an error naming the file and the problem: the
// header length (at most 100 MB, and within the file), UTF-8 and JSON syntax,
// no duplicate keys, known dtypes, shapes of non-negative integers, offsets in
// range, byte lengths that match numel × dtype size, and tensors that tile the
// data section exactly: no overlaps and no holes (the format forbids holes so
// that a file cannot hide other contents), up to the end of the file.
// Unknown extra keys inside a tensor entry are ignored, as the reference
// implementation does.
import type { FileHandle } from 'node:fs/promises';
import { type StorageType, byteLengthOf } from './dtype';
import { FileFormatError } from './errors';
import { readExactly, writeFully } from './files';
import { type JsonObject, type JsonValue, JsonSyntaxError, parseJson } from './json';

/** The largest header accepted, as in the reference implementation. */
export const MAX_HEADER_BYTES = 100_000_000;

type DTypeSpec = readonly [bits: number, float: StorageType['float']];

/** safetensors dtypes: bits per element, and the float kind the command line computes on. */
const DTYPES: Readonly<Record<string, DTypeSpec>> = {
  BOOL: [8, null],
  U8: [8, null],
  I8: [8, null],
  F8_E5M2: [8, null],
  F8_E4M3: [8, null],
  F8_E8M0: [8, null],
  I16: [16, null],
  U16: [16, null],
  F16: [16, 'f16'],
  BF16: [16, 'bf16'],
  I32: [32, null],
  U32: [32, null],
  F32: [32, 'f32'],
  F64: [64, 'f64'],
  I64: [64, null],
  U64: [64, null],
  C64: [64, null],
  F4: [4, null],
  F6_E2M3: [6, null],
  F6_E3M2: [6, null],
};

/** The storage type of a safetensors dtype name, or undefined when unknown. */
export function safetensorsDType(name: string): StorageType | undefined {
  const spec = Object.hasOwn(DTYPES, name) ? DTYPES[name] : undefined;
  return spec && { name, bits: spec[0], float: spec[1], littleEndian: true };
}

/** One tensor of a safetensors file. */
export interface TensorEntry {
  readonly name: string;
  readonly dtype: StorageType;
  readonly shape: readonly number[];
  readonly numel: number;
  /** Absolute byte offset of the tensor's data in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

/** What a safetensors header says. */
export interface SafetensorsHeader {
  /** N: the JSON header's length in bytes. */
  readonly headerLength: number;
  /** 8 + N: where the data section begins. */
  readonly dataStart: number;
  /** The data section's length in bytes. */
  readonly dataLength: number;
  /** `__metadata__`, or null when absent. */
  readonly metadata: ReadonlyMap<string, string> | null;
  /** The tensors in data order (by offset). */
  readonly tensors: readonly TensorEntry[];
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return v instanceof Map;
}

function isCount(v: JsonValue | undefined): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

const show = (v: JsonValue | undefined): string =>
  v === undefined ? 'nothing' : isObject(v) ? 'an object' : JSON.stringify(v);

/**
 * Parses and checks a header. `headerBytes` are the N bytes after the length;
 * `fileSize` is the whole file's size.
 */
export function parseSafetensorsHeader(file: string, headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  const bad = (problem: string): never => {
    throw new FileFormatError(file, problem);
  };
  const headerLength = headerBytes.byteLength;
  const dataStart = 8 + headerLength;
  const dataLength = fileSize - dataStart;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    return bad('bad header: not valid UTF-8');
  }
  if (text[0] !== '{') return bad(`bad header: it must be a JSON object beginning with '{', found ${JSON.stringify(text.slice(0, 16))}`);
  let root: JsonValue;
  try {
    root = parseJson(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) return bad(`bad header: invalid JSON: ${e.message}`);
    throw e;
  }
  if (!isObject(root)) return bad('bad header: not a JSON object');

  let metadata: Map<string, string> | null = null;
  const tensors: TensorEntry[] = [];
  for (const [name, info] of root) {
    if (name === '__metadata__') {
      if (!isObject(info)) return bad(`bad header: __metadata__ must be an object of strings, got ${show(info)}`);
      metadata = new Map();
      for (const [k, v] of info) {
        if (typeof v !== 'string') return bad(`bad header: __metadata__[${JSON.stringify(k)}] must be a string, got ${show(v)}`);
        metadata.set(k, v);
      }
      continue;
    }
    const where = `tensor ${JSON.stringify(name)}`;
    if (!isObject(info)) return bad(`${where}: the entry must be an object {dtype, shape, data_offsets}, got ${show(info)}`);
    const dtypeName = info.get('dtype');
    if (typeof dtypeName !== 'string') return bad(`${where}: dtype must be a string, got ${show(dtypeName)}`);
    const dtype = safetensorsDType(dtypeName);
    if (!dtype) return bad(`${where}: unknown dtype ${JSON.stringify(dtypeName)} (known: ${Object.keys(DTYPES).join(', ')})`);
    const shape = info.get('shape');
    if (!Array.isArray(shape) || !shape.every(isCount))
      return bad(`${where}: shape must be an array of non-negative integers, got ${show(shape)}`);
    const offsets = info.get('data_offsets');
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount))
      return bad(`${where}: data_offsets must be [begin, end] with non-negative integers, got ${show(offsets)}`);
    const [begin, end] = offsets as number[];
    if (begin > end) return bad(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(numel)) return bad(`${where}: shape [${shape.join(', ')}] has too many elements`);
    const byteLength = byteLengthOf(dtype, numel);
    if (byteLength === null)
      return bad(`${where}: shape [${shape.join(', ')}] of ${dtypeName} (${dtype.bits} bits each) does not fill whole bytes`);
    if (byteLength !== end - begin)
      return bad(
        `${where}: shape [${shape.join(', ')}] of ${dtypeName} needs ${byteLength} bytes but data_offsets [${begin}, ${end}] span ${end - begin} (shape and byte length disagree)`,
      );
    if (end > dataLength)
      return bad(
        `${where}: data_offsets [${begin}, ${end}] are out of range: the data section holds only ${Math.max(dataLength, 0)} bytes (offsets out of range, or the file is truncated)`,
      );
    tensors.push({ name, dtype, shape: shape as number[], numel, offset: dataStart + begin, byteLength });
  }

  tensors.sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength);
  let pos = dataStart;
  let prev: TensorEntry | null = null;
  for (const t of tensors) {
    if (t.offset < pos)
      return bad(
        `tensor ${JSON.stringify(t.name)} (data bytes [${t.offset - dataStart}, ${t.offset - dataStart + t.byteLength})) overlaps tensor ${JSON.stringify(prev!.name)} (data bytes [${prev!.offset - dataStart}, ${pos - dataStart}))`,
      );
    if (t.offset > pos)
      return bad(`data bytes [${pos - dataStart}, ${t.offset - dataStart}) belong to no tensor (the format allows no holes in the data section)`);
    pos = t.offset + t.byteLength;
    prev = t;
  }
  if (pos < fileSize)
    return bad(`the last ${fileSize - pos} bytes of the data section belong to no tensor (the format allows no holes in the data section)`);
  return { headerLength, dataStart, dataLength, metadata, tensors };
}

/** Reads and checks the header of the safetensors file open as `fh`. */
export async function readSafetensorsHeader(fh: FileHandle, file: string): Promise<SafetensorsHeader> {
  const { size } = await fh.stat();
  if (size < 8) throw new FileFormatError(file, `bad header length: the file has ${size} bytes, fewer than the 8 of the header length`);
  const lenBytes = await readExactly(fh, file, 0, 8);
  const n = new DataView(lenBytes.buffer).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES))
    throw new FileFormatError(file, `bad header length: ${n} bytes exceeds the limit of ${MAX_HEADER_BYTES} (not a safetensors file?)`);
  if (8n + n > BigInt(size))
    throw new FileFormatError(file, `bad header length: ${n} bytes, but the file has only ${size - 8} bytes after the length (truncated, or not a safetensors file?)`);
  if (n < 2n) throw new FileFormatError(file, `bad header length: ${n} bytes cannot hold a JSON object`);
  const header = await readExactly(fh, file, 8, Number(n));
  return parseSafetensorsHeader(file, header, size);
}

/** A tensor to write: name, safetensors dtype name and shape. */
export interface TensorSpec {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
}

/**
 * The first bytes of a safetensors file holding `tensors` in this order: the
 * 8-byte length and the JSON header, space-padded so that the data section
 * starts at a multiple of 8. Also gives each tensor's absolute offset.
 */
export function encodeSafetensorsHeader(
  tensors: readonly TensorSpec[],
  metadata?: ReadonlyMap<string, string> | Readonly<Record<string, string>> | null,
): { bytes: Buffer; offsets: number[]; byteLengths: number[]; fileSize: number } {
  const parts: string[] = [];
  if (metadata) {
    const md = metadata instanceof Map ? [...metadata] : Object.entries(metadata);
    parts.push(`"__metadata__":{${md.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  }
  const seen = new Set<string>();
  const byteLengths: number[] = [];
  let pos = 0;
  const begins: number[] = [];
  for (const t of tensors) {
    if (t.name === '__metadata__' || seen.has(t.name)) throw new RangeError(`tensor name ${JSON.stringify(t.name)} is reserved or repeated`);
    seen.add(t.name);
    const st = safetensorsDType(t.dtype);
    if (!st) throw new RangeError(`unknown safetensors dtype ${JSON.stringify(t.dtype)}`);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const len = byteLengthOf(st, numel);
    if (len === null) throw new RangeError(`tensor ${JSON.stringify(t.name)}: [${t.shape.join(', ')}] of ${t.dtype} does not fill whole bytes`);
    parts.push(`${JSON.stringify(t.name)}:{"dtype":${JSON.stringify(t.dtype)},"shape":[${t.shape.join(',')}],"data_offsets":[${pos},${pos + len}]}`);
    begins.push(pos);
    byteLengths.push(len);
    pos += len;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const bytes = Buffer.alloc(8 + padded, 0x20);
  bytes.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(bytes, 8);
  const dataStart = 8 + padded;
  return { bytes, offsets: begins.map((b) => dataStart + b), byteLengths, fileSize: dataStart + pos };
}

/**
 * Writes a safetensors file one tensor at a time: the header first, then each
 * tensor's bytes in the order given (possibly in several chunks), so that no
 * more than one tensor needs to be in memory.
 */
export class SafetensorsWriter {
  readonly #fh: FileHandle;
  readonly #specs: readonly TensorSpec[];
  readonly #ends: number[];
  #index = 0;
  #pos: number;

  private constructor(fh: FileHandle, specs: readonly TensorSpec[], header: ReturnType<typeof encodeSafetensorsHeader>) {
    this.#fh = fh;
    this.#specs = specs;
    this.#ends = header.offsets.map((o, i) => o + header.byteLengths[i]);
    this.#pos = header.bytes.length;
  }

  /** Writes the header to `fh` (at offset 0) and returns a writer for the tensors' data. */
  static async begin(
    fh: FileHandle,
    tensors: readonly TensorSpec[],
    metadata?: ReadonlyMap<string, string> | Readonly<Record<string, string>> | null,
  ): Promise<SafetensorsWriter> {
    const header = encodeSafetensorsHeader(tensors, metadata);
    await writeFully(fh, header.bytes, 0);
    return new SafetensorsWriter(fh, tensors, header);
  }

  /** Appends bytes of the current tensor; moves on to the next tensor once this one is complete. */
  async write(chunk: Uint8Array): Promise<void> {
    this.#skipEmpty();
    if (this.#index >= this.#specs.length) throw new RangeError('all tensors have been written');
    const end = this.#ends[this.#index];
    if (this.#pos + chunk.byteLength > end)
      throw new RangeError(`tensor ${JSON.stringify(this.#specs[this.#index].name)}: ${this.#pos + chunk.byteLength - end} bytes too many`);
    await writeFully(this.#fh, chunk, this.#pos);
    this.#pos += chunk.byteLength;
    if (this.#pos === end) this.#index++;
  }

  /** Checks that every tensor was written in full. */
  finish(): void {
    this.#skipEmpty();
    if (this.#index < this.#specs.length)
      throw new RangeError(`tensor ${JSON.stringify(this.#specs[this.#index].name)} and ${this.#specs.length - this.#index - 1} more were not written in full`);
  }

  #skipEmpty(): void {
    while (this.#index < this.#specs.length && this.#pos === this.#ends[this.#index]) this.#index++;
  }
}
