// Element types as stored in files, and conversion of floating-point
// storage to and from the computation dtypes (float32, float64).
import { sixteenBitEncoder, sixteenBitTable } from './half';

/** The floating-point storage formats the command line can compute on. */
export type FloatKind = 'f16' | 'bf16' | 'f32' | 'f64';

/** How one element is stored. */
export interface StorageType {
  /** The file's own name for it: `'F32'`, `'BF16'`, `'<f4'`, `'|b1'`, … */
  readonly name: string;
  /** Bits per element (sub-byte types such as safetensors' F4 have fewer than 8). */
  readonly bits: number;
  /** The floating-point kind when the command line can compute on it, else null (copied as bytes). */
  readonly float: FloatKind | null;
  /** Byte order of multi-byte elements. */
  readonly littleEndian: boolean;
}

/** The computation dtype. */
export type ComputeDType = 'float32' | 'float64';

const KIND_BYTES: Record<FloatKind, number> = { f16: 2, bf16: 2, f32: 4, f64: 8 };

/** Whether this machine stores multi-byte numbers little-endian. */
export const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Number of bytes that `numel` elements of `st` occupy, or null when they do not fill whole bytes. */
export function byteLengthOf(st: StorageType, numel: number): number | null {
  const bits = numel * st.bits;
  return bits % 8 === 0 ? bits / 8 : null;
}

/**
 * The values of `bytes` (elements of the float kind of `st`) as a typed array
 * of the computation dtype. Conversions to a wider type are exact; float64 to
 * float32 rounds to nearest, ties to even. May return a view of `bytes` when
 * no conversion is needed.
 */
export function decodeFloats(bytes: Uint8Array, st: StorageType, dtype: ComputeDType): Float32Array | Float64Array {
  const kind = st.float;
  if (!kind) throw new TypeError(`${st.name} is not a floating-point type`);
  const size = KIND_BYTES[kind];
  const n = bytes.byteLength / size;
  const Out = dtype === 'float64' ? Float64Array : Float32Array;
  const nativeOrder = st.littleEndian === HOST_LE;
  if (nativeOrder && bytes.byteOffset % size === 0) {
    if (kind === 'f32' && dtype === 'float32') return new Float32Array(bytes.buffer, bytes.byteOffset, n);
    if (kind === 'f64' && dtype === 'float64') return new Float64Array(bytes.buffer, bytes.byteOffset, n);
  }
  const out = new Out(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = st.littleEndian;
  switch (kind) {
    case 'f16':
    case 'bf16': {
      const table = sixteenBitTable(kind);
      for (let i = 0; i < n; i++) out[i] = table[dv.getUint16(2 * i, le)];
      break;
    }
    case 'f32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, le);
      break;
    case 'f64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, le);
      break;
  }
  return out;
}

/**
 * Writes `values` into `out` as elements of the float kind of `st`, rounding
 * to nearest, ties to even, where the storage is narrower. `out` must hold
 * exactly `values.length` elements (it may be the buffer the values were
 * decoded from).
 */
export function encodeFloats(values: Float32Array | Float64Array, st: StorageType, out: Uint8Array): void {
  const kind = st.float;
  if (!kind) throw new TypeError(`${st.name} is not a floating-point type`);
  const size = KIND_BYTES[kind];
  const n = values.length;
  if (out.byteLength !== n * size)
    throw new RangeError(`encodeFloats: ${n} values of ${st.name} need ${n * size} bytes, the buffer has ${out.byteLength}`);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const le = st.littleEndian;
  switch (kind) {
    case 'f16':
    case 'bf16': {
      const enc = sixteenBitEncoder(kind);
      for (let i = 0; i < n; i++) dv.setUint16(2 * i, enc(values[i]), le);
      break;
    }
    case 'f32':
      if (values instanceof Float32Array && le === HOST_LE) out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      else for (let i = 0; i < n; i++) dv.setFloat32(4 * i, values[i], le);
      break;
    case 'f64':
      if (values instanceof Float64Array && le === HOST_LE) out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      else for (let i = 0; i < n; i++) dv.setFloat64(8 * i, values[i], le);
      break;
  }
}

/** The computation dtype used when none is asked for: float64 for float64 storage, float32 otherwise. */
export function defaultComputeDType(st: StorageType): ComputeDType {
  return st.float === 'f64' ? 'float64' : 'float32';
}
