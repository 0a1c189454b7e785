// Plain-text tables and number formats for the command line's output.

/** A column: its heading and whether its cells are right-aligned (numbers). */
export interface Column {
  readonly title: string;
  readonly right?: boolean;
}

/** Rows under headings, columns padded to their widest cell, two spaces apart. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (columns[i].right ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title)), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

/** A value with `digits` significant digits: 0.9998, 12.35, 1.235e-7. */
export function sig(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e5 ? x.toPrecision(digits) : x.toExponential(digits - 1);
}

/** A small error in scientific notation: 3.21e-6. */
export function sci(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}
