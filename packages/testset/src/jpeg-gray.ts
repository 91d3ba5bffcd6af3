/**
 * A minimal baseline JPEG encoder for 8-bit grayscale images (one component, JFIF, the standard
 * ITU T.81 Annex K luminance tables). jpeg-js only writes 3-component YCbCr files, while real chest
 * radiographs (and the CheXpert JPEGs) are single-channel: a model that does `np.asarray(Image.open(p))`
 * must see the same (H, W) array here as on the hidden test set. Output is deterministic.
 */

// Annex K.1 luminance quantization table, natural (row-major) order.
const BASE_QUANT = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22,
  29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103,
  121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

// ZIGZAG[k] = natural index of the k-th coefficient in zigzag order.
const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7,
  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46,
  53, 60, 61, 54, 47, 55, 62, 63,
];

// Annex K.3 luminance Huffman tables: code counts per length 1..16, then symbols.
const DC_COUNTS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_SYMBOLS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const AC_COUNTS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
const AC_SYMBOLS = [
  0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71,
  0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72,
  0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37,
  0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
  0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83,
  0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3,
  0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
  0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
  0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
];

interface HuffTable {
  codes: Int32Array;
  lengths: Uint8Array;
}

function buildHuffman(counts: number[], symbols: number[]): HuffTable {
  const codes = new Int32Array(256);
  const lengths = new Uint8Array(256);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < (counts[len - 1] ?? 0); i++) {
      const sym = symbols[k++] ?? 0;
      codes[sym] = code++;
      lengths[sym] = len;
    }
    code <<= 1;
  }
  return { codes, lengths };
}

const ZIGZAG_I = Int32Array.from(ZIGZAG);
const DC_TABLE = buildHuffman(DC_COUNTS, DC_SYMBOLS);
const AC_TABLE = buildHuffman(AC_COUNTS, AC_SYMBOLS);

// Output scale of the AAN fast DCT below: coefficient (u, v) comes out multiplied by 8·a(u)·a(v).
const AAN = [1, 1.387039845, 1.306562965, 1.175875602, 1, 0.785694958, 0.5411961, 0.275899379];

/** In-place float AAN forward DCT (as IJG's jfdctflt.c) of 8 values at `off`, `off+stride`, … */
function fdct8(d: Float64Array, off: number, stride: number): void {
  const i0 = off;
  const i1 = off + stride;
  const i2 = off + 2 * stride;
  const i3 = off + 3 * stride;
  const i4 = off + 4 * stride;
  const i5 = off + 5 * stride;
  const i6 = off + 6 * stride;
  const i7 = off + 7 * stride;
  const tmp0 = d[i0]! + d[i7]!;
  const tmp7 = d[i0]! - d[i7]!;
  const tmp1 = d[i1]! + d[i6]!;
  const tmp6 = d[i1]! - d[i6]!;
  const tmp2 = d[i2]! + d[i5]!;
  const tmp5 = d[i2]! - d[i5]!;
  const tmp3 = d[i3]! + d[i4]!;
  const tmp4 = d[i3]! - d[i4]!;
  // Even part.
  let tmp10 = tmp0 + tmp3;
  const tmp13 = tmp0 - tmp3;
  let tmp11 = tmp1 + tmp2;
  let tmp12 = tmp1 - tmp2;
  d[i0] = tmp10 + tmp11;
  d[i4] = tmp10 - tmp11;
  const z1 = (tmp12 + tmp13) * 0.707106781;
  d[i2] = tmp13 + z1;
  d[i6] = tmp13 - z1;
  // Odd part.
  tmp10 = tmp4 + tmp5;
  tmp11 = tmp5 + tmp6;
  tmp12 = tmp6 + tmp7;
  const z5 = (tmp10 - tmp12) * 0.382683433;
  const z2 = 0.5411961 * tmp10 + z5;
  const z4 = 1.306562965 * tmp12 + z5;
  const z3 = tmp11 * 0.707106781;
  const z11 = tmp7 + z3;
  const z13 = tmp7 - z3;
  d[i5] = z13 + z2;
  d[i3] = z13 - z2;
  d[i1] = z11 + z4;
  d[i7] = z11 - z4;
}

function quantTable(quality: number): Uint8Array {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const scale = q < 50 ? Math.floor(5000 / q) : 200 - 2 * q;
  return Uint8Array.from(BASE_QUANT, (b) => Math.min(255, Math.max(1, Math.floor((b * scale + 50) / 100))));
}

class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  length = 0;
  private bitBuf = 0;
  private bitCount = 0;

  byte(b: number): void {
    if (this.length === this.buf.length) {
      const bigger = new Uint8Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.length++] = b;
  }

  word(w: number): void {
    this.byte((w >> 8) & 0xff);
    this.byte(w & 0xff);
  }

  bytes(list: ArrayLike<number>): void {
    for (let i = 0; i < list.length; i++) this.byte(list[i] ?? 0);
  }

  /** Appends `len` (≤ 16) bits of entropy-coded data, stuffing a zero after every 0xFF byte. */
  bits(value: number, len: number): void {
    this.bitBuf = (this.bitBuf << len) | (value & ((1 << len) - 1));
    this.bitCount += len;
    while (this.bitCount >= 8) {
      const b = (this.bitBuf >>> (this.bitCount - 8)) & 0xff;
      this.byte(b);
      if (b === 0xff) this.byte(0);
      this.bitCount -= 8;
      this.bitBuf &= (1 << this.bitCount) - 1;
    }
  }

  /** Pads the last partial byte with one-bits, as T.81 requires before a marker. */
  flushBits(): void {
    if (this.bitCount > 0) this.bits(0x7f, 8 - this.bitCount);
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function bitLength(v: number): number {
  let a = v < 0 ? -v : v;
  let n = 0;
  while (a > 0) {
    n++;
    a >>= 1;
  }
  return n;
}

function writeHeaders(w: ByteWriter, width: number, height: number, quant: Uint8Array): void {
  w.word(0xffd8); // SOI
  w.word(0xffe0); // APP0 JFIF 1.01, no density units, no thumbnail
  w.word(16);
  w.bytes([0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  w.word(0xffdb); // DQT, table 0, 8-bit, zigzag order
  w.word(67);
  w.byte(0);
  for (let k = 0; k < 64; k++) w.byte(quant[ZIGZAG[k] ?? 0] ?? 1);
  w.word(0xffc0); // SOF0: baseline, 8-bit, one component (id 1, 1x1 sampling, quant table 0)
  w.word(11);
  w.byte(8);
  w.word(height);
  w.word(width);
  w.bytes([1, 1, 0x11, 0]);
  w.word(0xffc4); // DHT: DC table 0 and AC table 0
  w.word(2 + 17 + DC_SYMBOLS.length + 17 + AC_SYMBOLS.length);
  w.byte(0x00);
  w.bytes(DC_COUNTS);
  w.bytes(DC_SYMBOLS);
  w.byte(0x10);
  w.bytes(AC_COUNTS);
  w.bytes(AC_SYMBOLS);
  w.word(0xffda); // SOS: one component, tables 0/0, full spectral range
  w.word(8);
  w.bytes([1, 1, 0, 0, 63, 0]);
}

/** Encodes `pixels` (row-major, width × height, 0..255) as a single-component baseline JPEG. */
export function encodeGrayJpeg(pixels: Uint8Array, width: number, height: number, quality = 90): Uint8Array {
  if (width < 1 || height < 1 || width > 65535 || height > 65535 || pixels.length !== width * height) {
    throw new Error(`encodeGrayJpeg: bad dimensions ${width}x${height} for ${pixels.length} pixels`);
  }
  const quant = quantTable(quality);
  const reciprocal = new Float64Array(64);
  for (let i = 0; i < 64; i++) reciprocal[i] = 1 / (quant[i]! * AAN[i >> 3]! * AAN[i & 7]! * 8);
  const w = new ByteWriter();
  writeHeaders(w, width, height, quant);

  const block = new Float64Array(64);
  const coef = new Int32Array(64);
  let prevDc = 0;
  for (let by = 0; by < height; by += 8) {
    for (let bx = 0; bx < width; bx += 8) {
      // Level-shifted samples; partial edge blocks repeat the last row/column.
      const inside = bx + 8 <= width && by + 8 <= height;
      for (let y = 0; y < 8; y++) {
        const row = Math.min(by + y, height - 1) * width;
        if (inside) for (let x = 0; x < 8; x++) block[y * 8 + x] = pixels[row + bx + x]! - 128;
        else for (let x = 0; x < 8; x++) block[y * 8 + x] = pixels[row + Math.min(bx + x, width - 1)]! - 128;
      }
      for (let r = 0; r < 8; r++) fdct8(block, r * 8, 1);
      for (let c = 0; c < 8; c++) fdct8(block, c, 8);
      // Quantize straight into zigzag order (rounding half away from zero).
      for (let k = 0; k < 64; k++) {
        const q = block[ZIGZAG_I[k]!]! * reciprocal[ZIGZAG_I[k]!]!;
        coef[k] = q < 0 ? -((0.5 - q) | 0) : (q + 0.5) | 0;
      }
      prevDc = encodeBlock(w, coef, prevDc);
    }
  }
  w.flushBits();
  w.word(0xffd9); // EOI
  return w.result();
}

function writeCoded(w: ByteWriter, table: HuffTable, symbol: number): void {
  w.bits(table.codes[symbol]!, table.lengths[symbol]!);
}

function writeMagnitude(w: ByteWriter, v: number, size: number): void {
  if (size > 0) w.bits(v < 0 ? v + (1 << size) - 1 : v, size);
}

/** Huffman-codes one quantized block, `coef` in zigzag order; returns its DC for the next block. */
function encodeBlock(w: ByteWriter, coef: Int32Array, prevDc: number): number {
  const dc = coef[0] ?? 0;
  const diff = dc - prevDc;
  const dcSize = bitLength(diff);
  writeCoded(w, DC_TABLE, dcSize);
  writeMagnitude(w, diff, dcSize);

  let run = 0;
  for (let k = 1; k < 64; k++) {
    const v = coef[k]!;
    if (v === 0) {
      run++;
      continue;
    }
    while (run > 15) {
      writeCoded(w, AC_TABLE, 0xf0); // ZRL: sixteen zeros
      run -= 16;
    }
    const size = bitLength(v);
    writeCoded(w, AC_TABLE, (run << 4) | size);
    writeMagnitude(w, v, size);
    run = 0;
  }
  if (run > 0) writeCoded(w, AC_TABLE, 0x00); // EOB
  return dc;
}
