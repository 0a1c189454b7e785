// IEEE 754 binary16 (half) and bfloat16 conversions, correctly rounded.
//
// Encoding rounds to nearest, ties to even, straight from the double value
// (never through float32 first: rounding twice, f64 -> f32 -> f16, gives the
// wrong answer when the first rounding lands exactly on a half-way point of
// the second). Overflow gives ±Infinity, values below half the smallest
// subnormal give ±0, subnormals are produced and read, and NaN becomes the
// quiet NaN of the format with the input's sign (payloads are not kept).
//
// Both formats are "minifloats" that differ only in their field widths, so
// one parameterized routine serves both.

/** Field widths and derived constants of a binary floating-point format of at most 16 bits. */
interface MiniFloat {
  /** Stored mantissa bits. */
  readonly man: number;
  /** Exponent bias. */
  readonly bias: number;
  /** The sign bit. */
  readonly signBit: number;
  /** Exponent field all ones (Infinity with a zero mantissa). */
  readonly infBits: number;
  /** The quiet NaN: exponent all ones and the top mantissa bit. */
  readonly nanBits: number;
  /** Magnitudes at or above this round to Infinity (half-way above the largest finite value, which has an odd mantissa). */
  readonly overflow: number;
  /** The smallest normal magnitude, 2^(1 - bias). */
  readonly minNormal: number;
  /** 2^(man - 1 + bias): scales a subnormal-range magnitude to units of the smallest subnormal. */
  readonly subScale: number;
  /** Lazily built decode table over all 2^16 bit patterns. */
  table: Float64Array | null;
}

function miniFloat(expBits: number, man: number): MiniFloat {
  const bias = (1 << (expBits - 1)) - 1;
  const expAllOnes = (1 << expBits) - 1;
  return {
    man,
    bias,
    signBit: 1 << (expBits + man),
    infBits: expAllOnes << man,
    nanBits: (expAllOnes << man) | (1 << (man - 1)),
    overflow: 2 ** bias * (2 - 2 ** -(man + 1)),
    minNormal: 2 ** (1 - bias),
    subScale: 2 ** (man - 1 + bias),
    table: null,
  };
}

const HALF = miniFloat(5, 10);
const BFLOAT16 = miniFloat(8, 7);

// Scratch space to read a double's sign and exponent bits exactly (the high
// word is element 1 on little-endian hosts, 0 on big-endian ones).
const scratchF64 = new Float64Array(1);
const scratchU32 = new Uint32Array(scratchF64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/**
 * The encoder of `fmt`: x -> the nearest bit pattern, ties to even. A closure
 * over the format's constants, so that the per-element work is a few integer
 * operations (it runs once per element of every 16-bit tensor written).
 */
function encoder(fmt: MiniFloat): (x: number) => number {
  const { man, bias, signBit, infBits, nanBits, overflow, minNormal, subScale } = fmt;
  const low = 20 - man; // bits of the double's high mantissa word below the kept ones
  const lowMask = (1 << low) - 1;
  const half = 2 ** (low - 1) * 2 ** 32; // half a unit in the last kept place, in the dropped bits' scale
  return (x: number): number => {
    scratchF64[0] = x;
    const hi = scratchU32[HI];
    const sign = hi >>> 31 ? signBit : 0;
    if (x !== x) return sign | nanBits;
    const a = Math.abs(x);
    if (a >= overflow) return sign | infBits;
    if (a < minNormal) {
      // Subnormal range: the result is a whole number of smallest subnormals
      // (scaling by a power of two is exact). Rounding up to 2^man gives the
      // smallest normal's bit pattern, as it should.
      const q = a * subScale;
      const f = Math.floor(q);
      const d = q - f;
      return sign | (d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f);
    }
    // Normal range: a >= minNormal >= 2^-126 is a normal double, so its
    // exponent field gives the exponent exactly and its 52 mantissa bits are
    // split into the `man` kept ones and the dropped rest (exact in a double).
    const e = ((hi >>> 20) & 0x7ff) - 1023;
    const kept = (hi & 0xfffff) >>> low;
    const rest = (hi & lowMask) * 2 ** 32 + scratchU32[1 - HI];
    const up = rest > half || (rest === half && (kept & 1) === 1) ? 1 : 0;
    // kept + up === 2^man carries into the exponent, which is the right
    // result; it cannot reach Infinity because a < overflow.
    return sign | (((e + bias) << man) + kept + up);
  };
}

function decodeOne(bits: number, fmt: MiniFloat): number {
  const negative = (bits & fmt.signBit) !== 0;
  const exp = (bits & ~fmt.signBit) >>> fmt.man;
  const mant = bits & ((1 << fmt.man) - 1);
  let v: number;
  if (exp === fmt.infBits >>> fmt.man) v = mant === 0 ? Infinity : NaN;
  else if (exp === 0) v = mant * 2 ** (1 - fmt.bias - fmt.man);
  else v = (2 ** fmt.man + mant) * 2 ** (exp - fmt.bias - fmt.man);
  return negative ? -v : v;
}

function decodeTable(fmt: MiniFloat): Float64Array {
  if (!fmt.table) {
    const t = new Float64Array(65536);
    for (let b = 0; b < 65536; b++) t[b] = decodeOne(b, fmt);
    fmt.table = t;
  }
  return fmt.table;
}

/** The binary16 bit pattern nearest to `x` (ties to even). */
export const toHalfBits: (x: number) => number = encoder(HALF);

/** The bfloat16 bit pattern nearest to `x` (ties to even). */
export const toBfloat16Bits: (x: number) => number = encoder(BFLOAT16);

/** The value of a binary16 bit pattern (exact). */
export function fromHalfBits(bits: number): number {
  return decodeTable(HALF)[bits & 0xffff];
}

/** The value of a bfloat16 bit pattern (exact). */
export function fromBfloat16Bits(bits: number): number {
  return decodeTable(BFLOAT16)[bits & 0xffff];
}

/** @internal The decode table of a 16-bit float kind (all 65536 patterns). */
export function sixteenBitTable(kind: 'f16' | 'bf16'): Float64Array {
  return decodeTable(kind === 'f16' ? HALF : BFLOAT16);
}

/** @internal The encoder of a 16-bit float kind. */
export function sixteenBitEncoder(kind: 'f16' | 'bf16'): (x: number) => number {
  return kind === 'f16' ? toHalfBits : toBfloat16Bits;
}
