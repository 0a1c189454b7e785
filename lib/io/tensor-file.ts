// One view of the tensor files the command line handles: a safetensors
// file (many named tensors) or an .npy file (one array, named after the
// file). Tensors are read one at a time with positioned reads.
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { type ComputeDType, decodeFloats } from './dtype';
import { FileFormatError } from './errors';
import { readExactly } from './files';
import { type NpyHeader, readNpyHeader } from './npy';
import { type TensorEntry, readSafetensorsHeader } from './safetensors';

export type FileFormat = 'safetensors' | 'npy';

/** A tensor stored in a file (for .npy, named after the file: its base name without `.npy`). */
export interface StoredTensor extends TensorEntry {
  /** Stored in Fortran (column-major) order (.npy only). */
  readonly fortranOrder: boolean;
}

/** An open tensor file: its handle and what its header says. */
export interface TensorFile {
  readonly path: string;
  readonly format: FileFormat;
  readonly fh: FileHandle;
  readonly size: number;
  /** Bytes before the first tensor's data (the header). */
  readonly headerLength: number;
  /** safetensors `__metadata__` (null when absent, and for .npy). */
  readonly metadata: ReadonlyMap<string, string> | null;
  /** The tensors in the order of their data. */
  readonly tensors: readonly StoredTensor[];
  /** The parsed .npy header (.npy only). */
  readonly npy: NpyHeader | null;
}

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

/**
 * Opens `file` read-only and reads its header: .npy when the name ends in
 * `.npy` or the content begins with NumPy's magic string, safetensors
 * otherwise. Throws FileFormatError for a corrupt file (and closes it).
 */
export async function openTensorFile(file: string): Promise<TensorFile> {
  const fh = await fsp.open(file, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new FileFormatError(file, 'not a regular file');
    const head = new Uint8Array(6);
    const { bytesRead } = await fh.read(head, 0, 6, 0);
    const isNpy = file.toLowerCase().endsWith('.npy') || (bytesRead === 6 && NPY_MAGIC.equals(head));
    if (isNpy) {
      const h = await readNpyHeader(fh, file);
      const name = path.basename(file).replace(/\.npy$/i, '');
      return {
        path: file,
        format: 'npy',
        fh,
        size: st.size,
        headerLength: h.dataStart,
        metadata: null,
        npy: h,
        tensors: [
          { name, dtype: h.dtype, shape: h.shape, numel: h.numel, offset: h.dataStart, byteLength: h.byteLength, fortranOrder: h.fortranOrder },
        ],
      };
    }
    const h = await readSafetensorsHeader(fh, file);
    return {
      path: file,
      format: 'safetensors',
      fh,
      size: st.size,
      headerLength: h.dataStart,
      metadata: h.metadata,
      npy: null,
      tensors: h.tensors.map((t) => ({ ...t, fortranOrder: false })),
    };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** Reads the raw bytes of `t` (a fresh, 8-byte aligned buffer). */
export function readTensorBytes(f: TensorFile, t: StoredTensor): Promise<Uint8Array> {
  return readExactly(f.fh, f.path, t.offset, t.byteLength);
}

/**
 * The values of float tensor `t` from its raw `bytes`, in `dtype`, in C
 * (row-major) order: a Fortran-ordered array is reordered.
 */
export function tensorValues(t: StoredTensor, bytes: Uint8Array, dtype: ComputeDType): Float32Array | Float64Array {
  const v = decodeFloats(bytes, t.dtype, dtype);
  return t.fortranOrder && t.shape.length > 1 ? fortranToC(v, t.shape) : v;
}

/**
 * Reorders the elements of an array of `shape` stored in Fortran order
 * (first index fastest) into C order (last index fastest).
 */
export function fortranToC<A extends Float32Array | Float64Array>(src: A, shape: readonly number[]): A {
  const out = new (src.constructor as { new (n: number): A })(src.length);
  const rank = shape.length;
  // Fortran strides: stride[d] = product of shape[0..d-1].
  const stride: number[] = [];
  for (let d = 0, s = 1; d < rank; s *= shape[d], d++) stride.push(s);
  const idx = new Array<number>(rank).fill(0);
  let from = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = src[from];
    // Advance the C-order odometer (last index fastest), tracking the source offset.
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) {
        from += stride[d];
        break;
      }
      from -= stride[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
  return out;
}
