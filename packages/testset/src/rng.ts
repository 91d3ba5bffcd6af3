import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import type { JumpableRandomGenerator } from "pure-rand/types/JumpableRandomGenerator";
import { xoroshiro128plus, xoroshiro128plusFromState } from "pure-rand/generator/xoroshiro128plus";

/**
 * A seeded random stream. Everything the generator draws goes through one of these, so a seed fixes
 * every byte written. Only pure-rand and IEEE arithmetic are used (no Math.random, no clock).
 */
export class Random {
  private spare: number | undefined;

  constructor(private readonly gen: JumpableRandomGenerator) {}

  /**
   * The stream of a seed within a family of sets. Family 0 is xoroshiro128plus(seed) itself (the
   * CheXpert-like sets); another family sets the state's last word, which no seed sets, so its streams
   * are not those of any seed of another family: equal seeds never give two families the same images.
   */
  static fromSeed(seed: number, family = 0): Random {
    if (family === 0) return new Random(xoroshiro128plus(seed | 0));
    const state = [...xoroshiro128plus(seed | 0).getState()];
    state[3] = family | 0; // 0 for every seed (pure-rand seeds the other three words)
    return new Random(xoroshiro128plusFromState(state));
  }

  /**
   * An independent stream 2^64 steps ahead; this stream advances past it too, so successive calls
   * give successive, non-overlapping streams (one per study keeps studies independent of each other).
   */
  split(): Random {
    this.gen.jump();
    return new Random(this.gen.clone());
  }

  /** Uniform in [0, 1). */
  next(): number {
    return uniformFloat64(this.gen);
  }

  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return uniformInt(this.gen, lo, hi);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box–Muller, caching the second value). */
  normal(mean = 0, sd = 1): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return mean + sd * z;
    }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + sd * r * Math.cos(2 * Math.PI * v);
  }

  /**
   * Fills `out` with cheap zero-mean noise of standard deviation `sd`: the sum of the two 16-bit
   * halves of one 32-bit draw (a triangular distribution). Per-pixel Box–Muller would cost several
   * times more, and detector noise needs no Gaussian tails.
   */
  fillNoise(out: Float32Array, sd: number): void {
    const scale = (sd * Math.sqrt(6)) / 65536;
    for (let i = 0; i < out.length; i++) {
      const a = this.gen.next();
      out[i] = ((a & 0xffff) + (a >>> 16) - 65535) * scale;
    }
  }
}
