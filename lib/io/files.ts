// File plumbing: exact positioned reads and writes, chunked copies, and
// output that appears all at once or not at all.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { FileFormatError } from './errors';

// Node's read() and write() take at most 2^31 - 1 bytes per call.
const MAX_IO_BYTES = 2 ** 30;

/** Reads exactly `length` bytes at `position` (into `into` when given), or throws a truncation error naming `file`. */
export async function readExactly(fh: FileHandle, file: string, position: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
  const buf = into ?? new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, Math.min(length - done, MAX_IO_BYTES), position + done);
    if (bytesRead === 0)
      throw new FileFormatError(file, `truncated: expected ${length} bytes at offset ${position}, the file ends after ${done}`);
    done += bytesRead;
  }
  return buf;
}

/** Writes all of `data` at `position`. */
export async function writeFully(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.byteLength) {
    const { bytesWritten } = await fh.write(data, done, Math.min(data.byteLength - done, MAX_IO_BYTES), position + done);
    done += bytesWritten;
  }
}

/** Bytes copied per read/write by copyRange(). */
export const COPY_CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * Copies `length` bytes from `src` at `from` to `dst` at `to`, in chunks of
 * at most COPY_CHUNK_BYTES (so memory stays bounded whatever the length);
 * `onChunk` is told each chunk's size.
 */
export async function copyRange(
  src: FileHandle,
  srcFile: string,
  from: number,
  dst: FileHandle,
  to: number,
  length: number,
  onChunk?: (bytes: number) => void,
): Promise<void> {
  const buf = new Uint8Array(Math.min(length, COPY_CHUNK_BYTES));
  for (let done = 0; done < length; ) {
    const n = Math.min(buf.byteLength, length - done);
    const chunk = await readExactly(src, srcFile, from + done, n, buf.subarray(0, n));
    await writeFully(dst, chunk, to + done);
    done += n;
    onChunk?.(n);
  }
}

/** Whether two paths name the same file (same device and inode, so also through symlinks and hard links); false when either does not exist. */
export async function sameFile(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([fsp.stat(a).catch(() => null), fsp.stat(b).catch(() => null)]);
  return !!sa && !!sb && sa.dev === sb.dev && sa.ino === sb.ino;
}

// Outputs being written now, so that a signal handler can remove their
// temporary files synchronously before the process dies.
const live = new Set<AtomicOutput>();

/**
 * A file written under a temporary name in the target's directory and moved
 * into place by commit(): readers of the target see the old file (or none)
 * until the new one is complete and on disk. abort() removes the temporary
 * file; abortAllSync() does that for every live output, for signal handlers.
 */
export class AtomicOutput {
  /** Where the file will be. */
  readonly target: string;
  /** Where it is written meanwhile (a hidden file next to the target). */
  readonly tempPath: string;
  /** Open for writing, positioned writes. */
  readonly fh: FileHandle;
  readonly #overwrite: boolean;
  #done = false;

  private constructor(target: string, tempPath: string, fh: FileHandle, overwrite: boolean) {
    this.target = target;
    this.tempPath = tempPath;
    this.fh = fh;
    this.#overwrite = overwrite;
  }

  /**
   * Creates the temporary file. With `overwrite` false, commit() fails rather
   * than replace a file that exists at `target` by then.
   */
  static async create(target: string, { overwrite }: { overwrite: boolean }): Promise<AtomicOutput> {
    const dir = path.dirname(path.resolve(target));
    const base = path.basename(target);
    const rand = Math.random().toString(36).slice(2, 10);
    const tempPath = path.join(dir, `.${base}.${process.pid}.${rand}.orthogonium-tmp`);
    const fh = await fsp.open(tempPath, 'wx');
    const out = new AtomicOutput(target, tempPath, fh, overwrite);
    live.add(out);
    return out;
  }

  /** Flushes the file to disk and moves it to the target; the directory entry is flushed too where the platform allows. */
  async commit(): Promise<void> {
    if (this.#done) throw new Error(`${this.target}: output already committed or aborted`);
    try {
      await this.fh.sync();
      await this.fh.close();
      if (this.#overwrite) {
        await fsp.rename(this.tempPath, this.target);
      } else {
        // link() fails when the target exists: no window in which another
        // process's file could be replaced.
        await moveNoClobber(this.tempPath, this.target);
      }
    } catch (e) {
      await this.abort();
      throw e;
    }
    this.#done = true;
    live.delete(this);
    await syncDirectory(path.dirname(path.resolve(this.target)));
  }

  /** Closes and removes the temporary file. Idempotent. */
  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    live.delete(this);
    await this.fh.close().catch(() => undefined);
    await fsp.unlink(this.tempPath).catch(() => undefined);
  }

  /** Synchronous abort() for signal and exit handlers. */
  abortSync(): void {
    if (this.#done) return;
    this.#done = true;
    live.delete(this);
    try {
      fs.closeSync(this.fh.fd);
    } catch {
      // already closed
    }
    try {
      fs.unlinkSync(this.tempPath);
    } catch {
      // already gone
    }
  }

  /** Aborts every output not yet committed (synchronously). */
  static abortAllSync(): void {
    for (const o of [...live]) o.abortSync();
  }
}

async function moveNoClobber(from: string, to: string): Promise<void> {
  try {
    await fsp.link(from, to);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // File systems without hard links: check, then rename (a small window).
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
    if (await fsp.lstat(to).then(() => true, () => false)) throw Object.assign(new Error(`EEXIST: file already exists, '${to}'`), { code: 'EEXIST', path: to });
    await fsp.rename(from, to);
    return;
  }
  await fsp.unlink(from);
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the rename durable on POSIX file systems; not possible everywhere
  // (Windows cannot open a directory), which is harmless: the data is synced.
  let fh: FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // best effort
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
