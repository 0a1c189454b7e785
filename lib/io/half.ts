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

// Scratch space to read a double's sign and exponent bits exactly.
const scratch = new DataView(new ArrayBuffer(8));

/** q rounded to the nearest integer, ties to even (q >= 0, small enough that q - floor(q) is exact). */
function roundHalfEven(q: number): number {
  const f = Math.floor(q);
  const d = q - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function encode(x: number, fmt: MiniFloat): number {
  scratch.setFloat64(0, x);
  const hi = scratch.getUint32(0);
  const sign = hi >>> 31 ? fmt.signBit : 0;
  if (x !== x) return sign | fmt.nanBits;
  const a = Math.abs(x);
  if (a >= fmt.overflow) return sign | fmt.infBits;
  if (a < fmt.minNormal) {
    // Subnormal range: the result is a whole number of smallest subnormals.
    // Scaling by a power of two is exact; rounding up to 2^man gives the
    // smallest normal's bit pattern, as it should.
    return sign | roundHalfEven(a * fmt.subScale);
  }
  // Normal range: a = 2^e * (1 + f), f in [0, 1). a >= minNormal >= 2^-126,
  // so a is a normal double and its exponent field gives e exactly.
  const e = ((hi >>> 20) & 0x7ff) - 1023;
  const frac = a * 2 ** -e - 1; // exact
  const r = roundHalfEven(frac * 2 ** fmt.man); // exact product
  // r === 2^man carries into the exponent, which is the right result; it
  // cannot reach Infinity because a < overflow.
  return sign | (((e + fmt.bias) << fmt.man) + r);
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
export function toHalfBits(x: number): number {
  return encode(x, HALF);
}

/** The bfloat16 bit pattern nearest to `x` (ties to even). */
export function toBfloat16Bits(x: number): number {
  return encode(x, BFLOAT16);
}

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
