// A one-line progress bar on stderr, drawn only when stderr is a terminal.

/** The part of a stream the bar needs (process.stderr, or a test double). */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(s: string): boolean;
}

/** Human-readable byte count: 512 B, 1.5 KiB, 3.2 GiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 2 : 1)} ${units[u]}`;
}

/** 42s, 3m05s, 1h02m. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * Tracks tensors and bytes done of a total and redraws at most every
 * `intervalMs`. Silent (draws nothing) when the stream is not a terminal.
 */
export class Progress {
  readonly #stream: ProgressStream;
  readonly #enabled: boolean;
  readonly #totalTensors: number;
  readonly #totalBytes: number;
  readonly #start: number;
  readonly #intervalMs: number;
  #tensors = 0;
  #bytes = 0;
  #lastDraw = -Infinity;
  #drawn = false;

  constructor(stream: ProgressStream, totalTensors: number, totalBytes: number, { intervalMs = 100, now = Date.now() } = {}) {
    this.#stream = stream;
    this.#enabled = stream.isTTY === true;
    this.#totalTensors = totalTensors;
    this.#totalBytes = totalBytes;
    this.#start = now;
    this.#intervalMs = intervalMs;
  }

  /** Counts bytes of the current tensor. */
  addBytes(n: number, now = Date.now()): void {
    this.#bytes += n;
    this.#maybeDraw(now, false);
  }

  /** Counts a finished tensor, and `bytes` more bytes with it. */
  tensorDone(bytes = 0, now = Date.now()): void {
    this.#bytes += bytes;
    this.#tensors++;
    this.#maybeDraw(now, this.#tensors === this.#totalTensors);
  }

  /** Erases the bar (before other output, and at the end). */
  clear(): void {
    if (this.#drawn) this.#stream.write('\r\x1b[2K');
    this.#drawn = false;
  }

  /** The bar's text at time `now`, fitted to `width` columns. */
  render(now: number, width = 80): string {
    const elapsed = (now - this.#start) / 1000;
    const frac = this.#totalBytes > 0 ? this.#bytes / this.#totalBytes : this.#tensors / Math.max(this.#totalTensors, 1);
    const eta = frac > 0 && frac < 1 ? `ETA ${formatDuration((elapsed * (1 - frac)) / frac)}` : frac >= 1 ? `done in ${formatDuration(elapsed)}` : 'ETA --';
    const text = ` ${this.#tensors}/${this.#totalTensors} tensors  ${formatBytes(this.#bytes)}/${formatBytes(this.#totalBytes)}  ${eta}`;
    const barWidth = Math.max(0, Math.min(30, width - text.length - 3));
    if (barWidth < 5) return text.trim().slice(0, Math.max(width - 1, 0));
    const full = Math.round(frac * barWidth);
    return `[${'#'.repeat(full)}${'-'.repeat(barWidth - full)}]${text}`;
  }

  #maybeDraw(now: number, force: boolean): void {
    if (!this.#enabled || (!force && now - this.#lastDraw < this.#intervalMs)) return;
    this.#lastDraw = now;
    this.#stream.write(`\r\x1b[2K${this.render(now, this.#stream.columns || 80)}`);
    this.#drawn = true;
  }
}
