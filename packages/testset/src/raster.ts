import type { Random } from "./rng.ts";

/** A float image in display units (0 = black, 255 = white: dense tissue is bright on a radiograph). */
export class Canvas {
  readonly data: Float32Array;
  constructor(
    readonly width: number,
    readonly height: number,
    data?: Float32Array,
  ) {
    this.data = data ?? new Float32Array(width * height);
  }
}

/**
 * Anatomy is smooth, so it is rendered on a half-resolution grid (a quarter of the pixels) and
 * enlarged; blobs, wires and noise are then drawn at full resolution.
 */
export class HalfRes {
  readonly width: number;
  readonly height: number;
  readonly value: Float32Array;
  readonly mask: Float32Array;
  constructor(
    readonly fullWidth: number,
    readonly fullHeight: number,
  ) {
    this.width = Math.ceil(fullWidth / 2);
    this.height = Math.ceil(fullHeight / 2);
    this.value = new Float32Array(this.width * this.height);
    this.mask = new Float32Array(this.width * this.height);
  }

  /** The full-resolution image. */
  enlarge(): Canvas {
    const { width: w, height: h, fullWidth: fw, fullHeight: fh } = this;
    return new Canvas(fw, fh, resize(this.value, w, h, fw, fh));
  }

  /** The full-resolution lung mask (only needed, and only computed, when something is drawn in the lungs). */
  enlargeMask(): Float32Array {
    const { width: w, height: h, fullWidth: fw, fullHeight: fh } = this;
    return resize(this.mask, w, h, fw, fh);
  }
}

export function smoothstep(edge0: number, edge1: number, x: number): number {
  const t = Math.min(1, Math.max(0, (x - edge0) / (edge1 - edge0)));
  return t * t * (3 - 2 * t);
}

/**
 * Smooth random field in [-1, 1] sampled at the pixel centres of a `width`×`height` grid: value noise
 * on a `cells`×`cells` lattice, smoothstep-interpolated (separably: rows first, then columns). Used
 * for lung texture, mottling and uneven exposure.
 */
export function noiseField(rng: Random, cells: number, width: number, height: number): Float32Array {
  const n = cells + 1;
  const lattice = Float32Array.from({ length: n * n }, () => rng.range(-1, 1));
  const weights = (size: number): { i0: Int32Array; t: Float32Array } => {
    const i0 = new Int32Array(size);
    const t = new Float32Array(size);
    for (let k = 0; k < size; k++) {
      const p = ((k + 0.5) / size) * cells;
      const j = Math.min(cells - 1, Math.floor(p));
      i0[k] = j;
      t[k] = smoothstep(0, 1, p - j);
    }
    return { i0, t };
  };
  const cx = weights(width);
  const cy = weights(height);
  // Lattice rows interpolated across the image width.
  const rows = new Float32Array(n * width);
  for (let r = 0; r < n; r++) {
    for (let x = 0; x < width; x++) {
      const a = lattice[r * n + cx.i0[x]!]!;
      rows[r * width + x] = a + (lattice[r * n + cx.i0[x]! + 1]! - a) * cx.t[x]!;
    }
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const r0 = cy.i0[y]! * width;
    const r1 = r0 + width;
    const t = cy.t[y]!;
    for (let x = 0; x < width; x++) out[y * width + x] = rows[r0 + x]! + (rows[r1 + x]! - rows[r0 + x]!) * t;
  }
  return out;
}

/**
 * Adds `amp` · exp(-r²/2) over a rotated elliptical Gaussian (centre, radii and angle in normalized
 * coordinates: u = x / width, v = y / height), weighted per pixel by `mask` when given.
 */
export function addBlob(
  c: Canvas,
  blob: { u: number; v: number; ru: number; rv: number; angle?: number; amp: number },
  mask?: Float32Array,
): void {
  const { width: w, height: h } = c;
  const cos = Math.cos(blob.angle ?? 0);
  const sin = Math.sin(blob.angle ?? 0);
  const reach = 3 * Math.max(blob.ru, blob.rv);
  const x0 = Math.max(0, Math.floor((blob.u - reach) * w));
  const x1 = Math.min(w - 1, Math.ceil((blob.u + reach) * w));
  const y0 = Math.max(0, Math.floor((blob.v - reach) * h));
  const y1 = Math.min(h - 1, Math.ceil((blob.v + reach) * h));
  for (let y = y0; y <= y1; y++) {
    const dv = y / h - blob.v;
    for (let x = x0; x <= x1; x++) {
      const du = x / w - blob.u;
      const a = (du * cos + dv * sin) / blob.ru;
      const b = (-du * sin + dv * cos) / blob.rv;
      const r2 = a * a + b * b;
      if (r2 > 9) continue;
      const i = y * w + x;
      c.data[i]! += blob.amp * Math.exp(-0.5 * r2) * (mask ? mask[i]! : 1);
    }
  }
}

/** Adds a bright line (tube, wire) of width `thick` (in u units) along a polyline of normalized points. */
export function addPolyline(c: Canvas, points: [number, number][], thick: number, amp: number): void {
  const { width: w, height: h } = c;
  // Coverage is the max over segments, so a bent tube does not glow where its segments meet.
  const cover = new Map<number, number>();
  const half = (thick * w) / 2 + 0.5;
  for (let k = 0; k + 1 < points.length; k++) {
    const [ua, va] = points[k]!;
    const [ub, vb] = points[k + 1]!;
    const ax = ua * w;
    const ay = va * h;
    const dx = ub * w - ax;
    const dy = vb * h - ay;
    const len2 = dx * dx + dy * dy || 1;
    const x0 = Math.max(0, Math.floor(Math.min(ax, ax + dx) - half - 1));
    const x1 = Math.min(w - 1, Math.ceil(Math.max(ax, ax + dx) + half + 1));
    const y0 = Math.max(0, Math.floor(Math.min(ay, ay + dy) - half - 1));
    const y1 = Math.min(h - 1, Math.ceil(Math.max(ay, ay + dy) + half + 1));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const t = Math.min(1, Math.max(0, ((x - ax) * dx + (y - ay) * dy) / len2));
        const d = Math.hypot(x - (ax + t * dx), y - (ay + t * dy));
        const cov = 1 - smoothstep(half - 1, half + 1, d);
        const i = y * w + x;
        if (cov > (cover.get(i) ?? 0)) cover.set(i, cov);
      }
    }
  }
  for (const [i, cov] of cover) c.data[i]! += amp * cov;
}

/**
 * Bilinear resampling to `width`×`height` (pixel centres aligned). The smooth anatomy is rendered at
 * half resolution and enlarged: it is four times cheaper and the eye (or a model) cannot tell.
 */
export function resize(
  src: Float32Array,
  sw: number,
  sh: number,
  width: number,
  height: number,
): Float32Array {
  const axis = (from: number, to: number): { i0: Int32Array; i1: Int32Array; t: Float32Array } => {
    const i0 = new Int32Array(to);
    const i1 = new Int32Array(to);
    const t = new Float32Array(to);
    for (let k = 0; k < to; k++) {
      const p = Math.min(from - 1, Math.max(0, ((k + 0.5) * from) / to - 0.5));
      i0[k] = Math.floor(p);
      i1[k] = Math.min(from - 1, Math.floor(p) + 1);
      t[k] = p - Math.floor(p);
    }
    return { i0, i1, t };
  };
  const ax = axis(sw, width);
  const ay = axis(sh, height);
  // Columns first (sh rows of `width`), then rows.
  const rows = new Float32Array(sh * width);
  for (let y = 0; y < sh; y++) {
    const o = y * sw;
    for (let x = 0; x < width; x++) {
      const a = src[o + ax.i0[x]!]!;
      rows[y * width + x] = a + (src[o + ax.i1[x]!]! - a) * ax.t[x]!;
    }
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const r0 = ay.i0[y]! * width;
    const r1 = ay.i1[y]! * width;
    const t = ay.t[y]!;
    const o = y * width;
    for (let x = 0; x < width; x++) out[o + x] = rows[r0 + x]! + (rows[r1 + x]! - rows[r0 + x]!) * t;
  }
  return out;
}

/**
 * Exposure, detector noise and quantization: applies `value · gain + offset`, then a gamma, adds
 * noise with standard deviation `noiseSd` and clamps to bytes.
 */
export function develop(
  rng: Random,
  c: Canvas,
  opts: { gain: number; offset: number; gamma: number; noiseSd: number },
): Uint8Array {
  const noise = new Float32Array(c.data.length);
  rng.fillNoise(noise, opts.noiseSd);
  // Gamma through a lookup table: Math.pow per pixel was a third of the generation time.
  const steps = 4096;
  const curve = Float32Array.from({ length: steps + 1 }, (_, i) => 255 * Math.pow(i / steps, opts.gamma));
  const scale = (opts.gain / 255) * steps;
  const shift = (opts.offset / 255) * steps;
  const out = new Uint8Array(c.data.length);
  for (let i = 0; i < out.length; i++) {
    const t = c.data[i]! * scale + shift;
    const k = t <= 0 ? 0 : t >= steps ? steps : (t + 0.5) | 0;
    const v = curve[k]! + noise[i]!;
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
  }
  return out;
}
