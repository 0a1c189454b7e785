// The command line's file layer, in process: IEEE half and bfloat16
// conversions against hand-computed bit patterns, the strict JSON parser,
// the safetensors and .npy readers on files built byte by byte (including
// every corrupt case), the writers, and the progress bar's rendering.
import { expect } from 'chai';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { ROOT, f32Bytes, f16Value, npy, safetensors, safetensorsRaw, tempDir } from './60.cli-support.mjs';

const require = createRequire(import.meta.url);
const half = require(`${ROOT}/dist/io/half.js`);
const { decodeFloats, encodeFloats } = require(`${ROOT}/dist/io/dtype.js`);
const { parseJson, JsonSyntaxError } = require(`${ROOT}/dist/io/json.js`);
const st = require(`${ROOT}/dist/io/safetensors.js`);
const np = require(`${ROOT}/dist/io/npy.js`);
const { openTensorFile, fortranToC } = require(`${ROOT}/dist/io/tensor-file.js`);
const { Progress, formatBytes, formatDuration } = require(`${ROOT}/dist/cli/progress.js`);

const hex = (b) => `0x${b.toString(16).padStart(4, '0')}`;

describe('CLI io: binary16 (half)', function () {
  // [value, bits] worked out by hand from the format: bias 15, 10 mantissa bits.
  const cases = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [0.1, 0x2e66], // 0.1 = 1.6 * 2^-4; 0.6 * 1024 = 614.4 -> 614 = 0x266
    [1 / 3, 0x3555], // 1.333.. * 2^-2; 0.333.. * 1024 = 341.33 -> 341 = 0x155
    [65504, 0x7bff], // largest finite
    [65519.99, 0x7bff], // below the half-way point to 2^16
    [65520, 0x7c00], // half-way, 0x3ff is odd: ties to even -> Infinity
    [1e6, 0x7c00],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [1023 * 2 ** -24, 0x03ff], // largest subnormal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // half of it: tie, 0 is even
    [2 ** -25 * (1 + 2 ** -20), 0x0001], // just above the tie
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 -> 2
    [5 * 2 ** -25, 0x0002], // tie between 2 and 3 -> 2
    [2 ** -14 - 2 ** -25, 0x0400], // tie between 0x3ff and 0x400 -> 0x400
    [-(2 ** -26), 0x8000], // underflow keeps the sign
    [1 + 2 ** -11, 0x3c00], // tie between 0x3c00 and 0x3c01 -> even
    [1 + 3 * 2 ** -11, 0x3c02], // tie between 0x3c01 and 0x3c02 -> even
    [1 + 2 ** -11 + 2 ** -40, 0x3c01], // above the tie: rounding via float32 first would give 0x3c00
  ];
  for (const [v, bits] of cases) {
    it(`encodes ${Object.is(v, -0) ? '-0' : v} as ${hex(bits)}`, function () {
      expect(hex(half.toHalfBits(v))).to.equal(hex(bits));
    });
  }
  it('encodes NaN as a quiet NaN', function () {
    expect(hex(half.toHalfBits(NaN))).to.equal('0x7e00');
  });
  // The exhaustive checks collect mismatches and compare the list once (an
  // assertion per pattern would make them slow).
  it('decodes every pattern as the definition says, and re-encodes it to itself', function () {
    const bad = [];
    for (let b = 0; b < 65536; b++) {
      const v = half.fromHalfBits(b);
      const want = f16Value(b);
      if (Number.isNaN(want)) {
        if (!Number.isNaN(v)) bad.push(hex(b));
      } else if (!Object.is(v, want) || half.toHalfBits(v) !== b) bad.push(hex(b));
    }
    expect(bad).to.deep.equal([]);
  });
  it('rounds every half-way point to the even neighbour and nudged points to the nearer one', function () {
    const bad = [];
    for (let b = 0; b < 0x7bff; b++) {
      const lo = f16Value(b);
      const hi = f16Value(b + 1);
      const mid = (lo + hi) / 2; // exact in float64
      const even = b % 2 === 0 ? b : b + 1;
      const nudge = (hi - lo) * 2 ** -20;
      if (half.toHalfBits(mid) !== even || half.toHalfBits(-mid) !== (even | 0x8000)) bad.push(`mid ${hex(b)}`);
      if (half.toHalfBits(mid - nudge) !== b || half.toHalfBits(mid + nudge) !== b + 1) bad.push(`nudged ${hex(b)}`);
    }
    expect(bad).to.deep.equal([]);
  });
});

describe('CLI io: bfloat16', function () {
  // bias 127, 7 mantissa bits
  const max = (2 - 2 ** -7) * 2 ** 127;
  const cases = [
    [1, 0x3f80],
    [-2, 0xc000],
    [-0, 0x8000],
    [0.1, 0x3dcd], // 1.6 * 2^-4; 0.6 * 128 = 76.8 -> 77 = 0x4d; exponent 123 = 0x7b
    [1 + 2 ** -8, 0x3f80], // tie -> even
    [1 + 3 * 2 ** -8, 0x3f82], // tie -> even
    [1 + 2 ** -8 + 2 ** -30, 0x3f81],
    [max, 0x7f7f],
    [(2 - 2 ** -8) * 2 ** 127, 0x7f80], // half-way above the largest finite: ties to even -> Infinity
    [(2 - 2 ** -8 - 2 ** -20) * 2 ** 127, 0x7f7f],
    [Infinity, 0x7f80],
    [-Infinity, 0xff80],
    [2 ** -126, 0x0080], // smallest normal
    [2 ** -133, 0x0001], // smallest subnormal
    [2 ** -134, 0x0000], // tie -> 0
    [3 * 2 ** -134, 0x0002], // tie between 1 and 2 -> 2
    [127 * 2 ** -133, 0x007f], // largest subnormal
  ];
  for (const [v, bits] of cases) {
    it(`encodes ${Object.is(v, -0) ? '-0' : v} as ${hex(bits)}`, function () {
      expect(hex(half.toBfloat16Bits(v))).to.equal(hex(bits));
    });
  }
  it('encodes NaN as a quiet NaN', function () {
    expect(hex(half.toBfloat16Bits(NaN))).to.equal('0x7fc0');
  });
  it('agrees with round-to-nearest-even on float32 bits for float32 inputs', function () {
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    let s = 7;
    const bad = [];
    for (let i = 0; i < 200000; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      u[0] = s >>> 0;
      if (Number.isNaN(f[0])) continue;
      const want = ((u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16) & 0xffff;
      if (half.toBfloat16Bits(f[0]) !== want) bad.push(u[0].toString(16));
    }
    expect(bad).to.deep.equal([]);
  });
  it('decodes every pattern exactly (the high half of a float32)', function () {
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    const bad = [];
    for (let b = 0; b < 65536; b++) {
      u[0] = b << 16;
      const v = half.fromBfloat16Bits(b);
      if (Number.isNaN(f[0]) ? !Number.isNaN(v) : !Object.is(v, f[0])) bad.push(hex(b));
    }
    expect(bad).to.deep.equal([]);
  });
});

describe('CLI io: decodeFloats() / encodeFloats()', function () {
  const type = (name, float, bits, littleEndian = true) => ({ name, float, bits, littleEndian });
  it('reads and writes big-endian float32 and float64', function () {
    const bytes = Buffer.from([0x3f, 0x80, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00]);
    const v = decodeFloats(new Uint8Array(bytes), type('>f4', 'f32', 32, false), 'float64');
    expect([...v]).to.deep.equal([1, -2]);
    const out = new Uint8Array(16);
    encodeFloats(new Float64Array([1, -2]), type('>f8', 'f64', 64, false), out);
    expect(Buffer.from(out).toString('hex')).to.equal('3ff0000000000000c000000000000000');
  });
  it('rounds float64 to float32 storage to nearest even', function () {
    const out = new Uint8Array(4);
    encodeFloats(new Float64Array([1 + 2 ** -24]), type('F32', 'f32', 32), out);
    expect(new Float32Array(out.buffer)[0]).to.equal(1);
  });
  it('writes F16 and BF16 storage in either byte order', function () {
    const out = new Uint8Array(4);
    encodeFloats(new Float32Array([1, -2]), type('>f2', 'f16', 16, false), out);
    expect(Buffer.from(out).toString('hex')).to.equal('3c00c000');
    encodeFloats(new Float32Array([1, -2]), type('BF16', 'bf16', 16), out);
    expect(Buffer.from(out).toString('hex')).to.equal('803f00c0');
  });
  it('refuses a buffer of the wrong size', function () {
    expect(() => encodeFloats(new Float32Array(3), type('F32', 'f32', 32), new Uint8Array(8))).to.throw(RangeError, /12 bytes/);
  });
});

describe('CLI io: parseJson()', function () {
  it('keeps keys in file order, including "__proto__" and integer-like names', function () {
    const v = parseJson('{"b": 1, "0": [true, null], "__proto__": {"x": "\\u00e9\\n"}}');
    expect([...v.keys()]).to.deep.equal(['b', '0', '__proto__']);
    expect(v.get('__proto__').get('x')).to.equal('é\n');
  });
  it('rejects duplicate keys, trailing data, bad escapes and deep nesting', function () {
    expect(() => parseJson('{"a": 1, "a": 2}')).to.throw(JsonSyntaxError, /duplicate key "a"/);
    expect(() => parseJson('{"a": 1} x')).to.throw(JsonSyntaxError, /after the JSON value/);
    expect(() => parseJson('{"a": "\\q"}')).to.throw(JsonSyntaxError, /bad escape/);
    expect(() => parseJson('['.repeat(100) + ']'.repeat(100))).to.throw(JsonSyntaxError, /nesting/);
    expect(() => parseJson('{"a": 01}')).to.throw(JsonSyntaxError);
  });
});

describe('CLI io: safetensors reader', function () {
  let tmp;
  before(() => (tmp = tempDir()));
  after(() => tmp.cleanup());

  async function read(bytes) {
    const f = tmp.file(`t${Math.random().toString(36).slice(2)}.safetensors`);
    fs.writeFileSync(f, bytes);
    const file = await openTensorFile(f);
    await file.fh.close();
    return file;
  }

  it('reads a file built from the format description', async function () {
    const bytes = safetensors(
      [
        { name: 'w', dtype: 'F32', shape: [2, 3], bytes: f32Bytes([1, 2, 3, 4, 5, 6]) },
        { name: 'ids', dtype: 'I64', shape: [2], bytes: Buffer.alloc(16, 1) },
        { name: 'empty', dtype: 'F16', shape: [0, 4], bytes: Buffer.alloc(0) },
        { name: 'flag', dtype: 'BOOL', shape: [], bytes: Buffer.from([1]) },
      ],
      { format: 'pt', note: 'ünïcode' },
    );
    const f = await read(bytes);
    expect(f.format).to.equal('safetensors');
    expect(Object.fromEntries(f.metadata)).to.deep.equal({ format: 'pt', note: 'ünïcode' });
    expect(f.tensors.map((t) => [t.name, t.dtype.name, t.shape, t.byteLength])).to.deep.equal([
      ['w', 'F32', [2, 3], 24],
      ['ids', 'I64', [2], 16],
      ['empty', 'F16', [0, 4], 0],
      ['flag', 'BOOL', [], 1],
    ]);
    expect(f.tensors[0].offset).to.equal(f.headerLength);
    expect(f.headerLength % 8).to.equal(0);
  });

  it('lists tensors in data order, whatever the header order', async function () {
    const f = await read(
      safetensorsRaw('{"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', Buffer.from([1, 2, 3, 4])),
    );
    expect(f.tensors.map((t) => t.name)).to.deep.equal(['a', 'b']);
  });

  // Every corrupt case: [what, bytes, message pattern].
  const w = (extra = '') => `"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]${extra}}`;
  const eight = Buffer.alloc(8);
  const corrupt = [
    ['a file shorter than the header length', Buffer.from([1, 2, 3]), /bad header length: the file has 3 bytes/],
    ['a header length beyond the limit', safetensorsRaw('{}', eight, { headerLength: 200_000_000 }), /bad header length: 200000000 bytes exceeds the limit/],
    ['a header length beyond the file', safetensorsRaw(`{${w()}}`, eight, { headerLength: 4000 }), /bad header length: 4000 bytes, but the file has only/],
    ['a header that is not UTF-8', safetensorsRaw('{"\u00ff":1}'.replace('\u00ff', '\ufffd')).fill(0xff, 10, 12), /not valid UTF-8/],
    ['a header that is not JSON', safetensorsRaw(`{${w()}`, eight), /invalid JSON: unexpected end of JSON/],
    ['a header that is a JSON array', safetensorsRaw('[1, 2]'), /must be a JSON object beginning with '\{'/],
    ['duplicate tensor names', safetensorsRaw(`{${w()},${w()}}`, eight), /invalid JSON: duplicate key "w"/],
    ['non-string metadata', safetensorsRaw(`{"__metadata__":{"n":1},${w()}}`, eight), /__metadata__\["n"\] must be a string/],
    ['an entry that is not an object', safetensorsRaw('{"w":[1]}'), /tensor "w": the entry must be an object/],
    ['an unknown dtype', safetensorsRaw('{"w":{"dtype":"Q7","shape":[2],"data_offsets":[0,2]}}', Buffer.alloc(2)), /tensor "w": unknown dtype "Q7"/],
    ['a negative dimension', safetensorsRaw('{"w":{"dtype":"U8","shape":[-2],"data_offsets":[0,2]}}', Buffer.alloc(2)), /shape must be an array of non-negative integers/],
    ['offsets that are not a pair', safetensorsRaw('{"w":{"dtype":"U8","shape":[2],"data_offsets":[0]}}', Buffer.alloc(2)), /data_offsets must be \[begin, end\]/],
    ['offsets that end before they begin', safetensorsRaw('{"w":{"dtype":"U8","shape":[0],"data_offsets":[2,0]}}', Buffer.alloc(2)), /end before they begin/],
    ['shape and byte length that disagree', safetensorsRaw('{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', eight), /needs 12 bytes but data_offsets \[0, 8\] span 8 \(shape and byte length disagree\)/],
    ['offsets out of range', safetensorsRaw('{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', eight), /data_offsets \[0, 16\] are out of range: the data section holds only 8 bytes/],
    ['a truncated file', safetensors([{ name: 'w', dtype: 'F32', shape: [4], bytes: Buffer.alloc(16) }]).subarray(0, -5), /out of range: the data section holds only 11 bytes \(offsets out of range, or the file is truncated\)/],
    ['overlapping tensors', safetensorsRaw('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}', Buffer.alloc(6)), /tensor "b" \(data bytes \[2, 6\)\) overlaps tensor "a" \(data bytes \[0, 4\)\)/],
    ['a hole between tensors', safetensorsRaw('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}', Buffer.alloc(6)), /data bytes \[2, 4\) belong to no tensor/],
    ['bytes after the last tensor', safetensorsRaw(`{${w()}}`, Buffer.alloc(12)), /the last 4 bytes of the data section belong to no tensor/],
    ['a sub-byte dtype that does not fill whole bytes', safetensorsRaw('{"w":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}', Buffer.alloc(2)), /does not fill whole bytes/],
  ];
  for (const [what, bytes, re] of corrupt) {
    it(`rejects ${what}, naming the file`, async function () {
      let err;
      try {
        await read(bytes);
      } catch (e) {
        err = e;
      }
      expect(err, 'no error').to.be.an('error');
      expect(err.code).to.equal('ERR_ORTHO_FORMAT');
      expect(err.message).to.match(/^\/.*\.safetensors: /);
      expect(err.message).to.match(re);
    });
  }

  it('accepts unknown extra keys in an entry, and header padding', async function () {
    const f = await read(safetensorsRaw(`{${w(',"extra":[1]')}}      `, eight));
    expect(f.tensors[0].name).to.equal('w');
  });
});

describe('CLI io: SafetensorsWriter', function () {
  let tmp;
  before(() => (tmp = tempDir()));
  after(() => tmp.cleanup());

  it('writes a header readers of the published format accept, with 8-byte alignment', async function () {
    const f = tmp.file('w.safetensors');
    const fh = await fs.promises.open(f, 'w');
    const specs = [
      { name: 'a', dtype: 'F32', shape: [2, 2] },
      { name: 'e', dtype: 'F64', shape: [0] },
      { name: 'b', dtype: 'BF16', shape: [3] },
    ];
    const writer = await st.SafetensorsWriter.begin(fh, specs, { k: 'v' });
    await writer.write(f32Bytes([1, 2]));
    await writer.write(f32Bytes([3, 4]));
    await writer.write(Buffer.from([1, 2, 3, 4, 5, 6]));
    writer.finish();
    await fh.close();
    const buf = fs.readFileSync(f);
    const n = Number(buf.readBigUInt64LE(0));
    expect((8 + n) % 8).to.equal(0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString());
    expect(header).to.deep.equal({
      __metadata__: { k: 'v' },
      a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
      e: { dtype: 'F64', shape: [0], data_offsets: [16, 16] },
      b: { dtype: 'BF16', shape: [3], data_offsets: [16, 22] },
    });
    expect(buf.length).to.equal(8 + n + 22);
    expect([...new Float32Array(buf.buffer.slice(buf.byteOffset + 8 + n, buf.byteOffset + 8 + n + 16))]).to.deep.equal([1, 2, 3, 4]);
  });

  it('refuses too many bytes and an unfinished file', async function () {
    const fh = await fs.promises.open(tmp.file('x.safetensors'), 'w');
    const writer = await st.SafetensorsWriter.begin(fh, [{ name: 'a', dtype: 'U8', shape: [2] }]);
    let err;
    await writer.write(Buffer.alloc(3)).catch((e) => (err = e));
    expect(err).to.be.instanceOf(RangeError);
    expect(() => writer.finish()).to.throw(RangeError, /not written in full/);
    await fh.close();
  });
});

describe('CLI io: .npy', function () {
  let tmp;
  before(() => (tmp = tempDir()));
  after(() => tmp.cleanup());

  async function read(bytes, name = `a${Math.random().toString(36).slice(2)}.npy`) {
    const f = tmp.file(name);
    fs.writeFileSync(f, bytes);
    const file = await openTensorFile(f);
    await file.fh.close();
    return file;
  }

  it('reads versions 1.0 and 2.0, scalars, vectors and matrices, either byte order', async function () {
    let f = await read(npy('<f4', [2, 3], f32Bytes([1, 2, 3, 4, 5, 6])), 'm.npy');
    expect(f.tensors[0]).to.include({ name: 'm', numel: 6, byteLength: 24, fortranOrder: false });
    expect(f.tensors[0].dtype).to.include({ float: 'f32', littleEndian: true });
    f = await read(npy('>f8', [3], Buffer.alloc(24), { major: 2 }));
    expect(f.tensors[0].shape).to.deep.equal([3]);
    expect(f.tensors[0].dtype).to.include({ float: 'f64', littleEndian: false });
    f = await read(npy('<f2', [], Buffer.alloc(2)));
    expect(f.tensors[0].shape).to.deep.equal([]);
    f = await read(npy('|b1', [4], Buffer.alloc(4)));
    expect(f.tensors[0].dtype).to.include({ float: null, bits: 8 });
    f = await read(npy('<U3', [2], Buffer.alloc(24)));
    expect(f.tensors[0].byteLength).to.equal(24);
  });

  const corrupt = [
    ['a file without the magic string', Buffer.from('not numpy at all, no'), /not an \.npy file/],
    ['an unknown version', Buffer.concat([npy('<f4', [1], Buffer.alloc(4)).subarray(0, 6), Buffer.from([9, 0]), npy('<f4', [1], Buffer.alloc(4)).subarray(8)]), /unsupported \.npy format version 9\.0/],
    ['a header length beyond the file', (() => { const b = npy('<f4', [1], Buffer.alloc(4)); b.writeUInt16LE(5000, 8); return b; })(), /bad header length 5000/],
    ['truncated data', npy('<f4', [4], Buffer.alloc(12)), /truncated: shape \(4\) of <f4 needs 16 data bytes, the file holds 12/],
    ['bytes after the data', npy('<f4', [2], Buffer.alloc(12)), /4 bytes after the array data/],
    ['a header that is not a dict', (() => { const b = npy('<f4', [1], Buffer.alloc(4)); b.write('[', 10, 'latin1'); return b; })(), /bad header/],
    ['a missing key', Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0x26, 0]), Buffer.from("{'descr': '<f4', 'shape': (1,), }".padEnd(0x25) + '\n', 'latin1'), Buffer.alloc(4)]), /keys must be 'descr', 'fortran_order' and 'shape'/],
    ['a structured dtype', Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0x46, 0]), Buffer.from("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }".padEnd(0x45) + '\n', 'latin1'), Buffer.alloc(4)]), /structured dtypes are not supported/],
    ['an object dtype', npy('|O', [1], Buffer.alloc(8)), /dtype "\|O" is not supported/],
  ];
  for (const [what, bytes, re] of corrupt) {
    it(`rejects ${what}, naming the file`, async function () {
      let err;
      await read(bytes).catch((e) => (err = e));
      expect(err, 'no error').to.be.an('error');
      expect(err.code).to.match(/^ERR_ORTHO_(FORMAT|UNSUPPORTED)$/);
      expect(err.message).to.match(/\.npy: /);
      expect(err.message).to.match(re);
    });
  }

  it('encodeNpyHeader() writes what the format describes, data aligned to 64', function () {
    const h = np.encodeNpyHeader('<f4', [3, 4]);
    expect(h.length % 64).to.equal(0);
    expect(h.subarray(0, 8).toString('latin1')).to.equal('\x93NUMPY\x01\x00');
    expect(h.readUInt16LE(8)).to.equal(h.length - 10);
    expect(h.subarray(10).toString('latin1')).to.match(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(3, 4\), \} *\n$/);
    expect(np.encodeNpyHeader('>f8', [5]).toString('latin1')).to.include("'shape': (5,)");
    expect(np.encodeNpyHeader('<f2', []).toString('latin1')).to.include("'shape': ()");
  });

  it('fortranToC() reorders a column-major array', function () {
    // A = [[1, 2, 3], [4, 5, 6]] stored column by column: 1 4 2 5 3 6.
    expect([...fortranToC(new Float64Array([1, 4, 2, 5, 3, 6]), [2, 3])]).to.deep.equal([1, 2, 3, 4, 5, 6]);
    // 2 x 2 x 2: element (i, j, k) is stored at i + 2j + 4k.
    const f = new Float64Array(8).map((_, p) => p);
    const c = fortranToC(f, [2, 2, 2]);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 2; k++) expect(c[i * 4 + j * 2 + k]).to.equal(i + 2 * j + 4 * k);
  });
});

describe('CLI: progress bar', function () {
  it('draws tensors, bytes and ETA on a terminal', function () {
    const writes = [];
    const stream = { isTTY: true, columns: 100, write: (s) => writes.push(s) };
    const p = new Progress(stream, 4, 4096, { intervalMs: 0, now: 0 });
    p.addBytes(512, 500);
    p.tensorDone(512, 1000);
    const line = p.render(1000, 100);
    expect(line).to.match(/^\[#+-+\] 1\/4 tensors {2}1\.00 KiB\/4\.00 KiB {2}ETA 3s$/);
    expect(writes.length).to.be.greaterThan(0);
    expect(writes.at(-1)).to.include('1/4 tensors');
    p.clear();
    expect(writes.at(-1)).to.equal('\r\x1b[2K');
  });
  it('is silent when the stream is not a terminal', function () {
    const writes = [];
    const p = new Progress({ isTTY: false, write: (s) => writes.push(s) }, 2, 10, { intervalMs: 0 });
    p.addBytes(10);
    p.tensorDone();
    p.clear();
    expect(writes).to.deep.equal([]);
  });
  it('formats sizes and durations', function () {
    expect(formatBytes(512)).to.equal('512 B');
    expect(formatBytes(3 * 1024 ** 3)).to.equal('3.00 GiB');
    expect(formatDuration(42)).to.equal('42s');
    expect(formatDuration(185)).to.equal('3m05s');
    expect(formatDuration(3720)).to.equal('1h02m');
  });
});
