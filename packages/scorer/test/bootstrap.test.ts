import { describe, expect, it } from "vitest";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import {
  auc,
  bootstrapAuc,
  bootstrapDistribution,
  compareDistributions,
  pairedComparison,
  percentile,
  ScorerInputError,
  TASKS,
  type PerTask,
} from "@holdout/scorer";

const perTask = <T>(f: (t: number) => T) =>
  Object.fromEntries(TASKS.map((task, t) => [task, f(t)])) as PerTask<T>;

/** ~30% prevalence per task; the truth depends on the seed only. */
function syntheticTruth(n: number, seed: number): PerTask<number[]> {
  const rng = xoroshiro128plus(seed);
  return perTask(() => Array.from({ length: n }, () => (uniformInt(rng, 0, 99) < 30 ? 1 : 0)));
}

/** A model: noise on a grid (ties happen) plus `signal` for positives. */
function model(truth: PerTask<number[]>, noiseSeed: number, signal = 0.2): PerTask<number[]> {
  const rng = xoroshiro128plus(noiseSeed);
  return perTask((t) => truth[TASKS[t]!].map((label) => uniformInt(rng, 0, 999) / 1000 + label * signal));
}

function synthetic(n: number, seed: number, signal = 0.2) {
  const truth = syntheticTruth(n, seed);
  return { truth, predictions: model(truth, seed + 1000, signal) };
}

describe("bootstrapAuc", () => {
  const data = synthetic(500, 1);

  it("gives the official AUCs with 95% intervals around them, the same for the same seed", () => {
    const result = bootstrapAuc(data, { replicates: 500, seed: 42 });
    expect(result.tasks.map((t) => t.task)).toEqual([...TASKS]);
    for (const t of result.tasks) {
      expect(t.auc).toBe(auc(data.truth[t.task], data.predictions[t.task]));
      expect(t.auc95[0]).toBeLessThan(t.auc);
      expect(t.auc95[1]).toBeGreaterThan(t.auc);
    }
    // Averaging five tasks narrows the interval: it is narrower than any task's.
    const width = ([lo, hi]: [number, number]) => hi - lo;
    expect(width(result.meanAuc95)).toBeLessThan(Math.min(...result.tasks.map((t) => width(t.auc95))));
    expect([result.replicates, result.degenerate]).toEqual([500, 0]);
    expect(bootstrapAuc(data, { replicates: 500, seed: 42 })).toEqual(result);
    expect(bootstrapAuc(data, { replicates: 500, seed: 43 }).meanAuc95).not.toEqual(result.meanAuc95);
  });

  it("narrows as the test set grows (about 1/sqrt(n))", () => {
    const width = (n: number) => {
      const [lo, hi] = bootstrapAuc(synthetic(n, 2), { replicates: 400, seed: 1 }).meanAuc95;
      return hi - lo;
    };
    const ratio = width(200) / width(1800); // sqrt(9) = 3 in theory
    expect(ratio).toBeGreaterThan(2.2);
    expect(ratio).toBeLessThan(4);
  });

  it.each([40, 500])(
    "computes each replicate's AUCs on one resample of %i studies shared by the five tasks",
    (n) => {
      // Replays the documented draw, n uniformInt study indices from xoroshiro128plus(seed), and
      // scores the materialised resample with the official AUC.
      const small = synthetic(n, 3);
      const rng = xoroshiro128plus(9);
      const replay = () => Array.from({ length: n }, () => uniformInt(rng, 0, n - 1));
      const [first, second] = [replay(), replay()];
      const replicates = bootstrapDistribution(small, { replicates: 2, seed: 9 });
      for (const task of TASKS) {
        for (const [r, drawn] of [first, second].entries()) {
          const labels = drawn.map((i) => small.truth[task][i]!);
          const scores = drawn.map((i) => small.predictions[task][i]!);
          expect(replicates.tasks[task][r]).toBeCloseTo(auc(labels, scores), 14);
        }
      }
    },
  );

  it("skips replicates in which a task lacks a class, and says how many", () => {
    // Each task has one positive, a different study: a replicate is kept only if it drew all 5
    // studies, probability 5!/5^5 = 3.8%.
    const truth = perTask((t) => [0, 1, 2, 3, 4].map((i) => (i === t ? 1 : 0)));
    const predictions = perTask(() => [0.1, 0.2, 0.3, 0.4, 0.5]);
    const result = bootstrapAuc({ truth, predictions }, { replicates: 1000, seed: 1 });
    expect(result.replicates + result.degenerate).toBe(1000);
    expect(result.replicates).toBeGreaterThan(15);
    expect(result.replicates).toBeLessThan(70);
    expect(() => bootstrapAuc({ truth, predictions }, { replicates: 1, seed: 0 })).toThrow(
      /all 1 bootstrap replicates lack a positive or a negative/,
    );
  });

  it("keeps the point estimate inside the interval when every replicate ranks perfectly", () => {
    // One positive above seven negatives: sklearn's trapezoids give 0.9999999999999999, every
    // replicate is a perfect ranking; the interval must not be [1, 1].
    const truth = perTask(() => [0, 0, 0, 0, 0, 0, 1, 0]);
    const predictions = perTask(() => [19, 18, 12, 12, 0, 1, 20, 18]);
    const result = bootstrapAuc({ truth, predictions }, { replicates: 100, seed: 5 });
    const point = result.tasks[0]!.auc;
    expect(point).toBeLessThan(1);
    expect(result.tasks[0]!.auc95).toEqual([point, point]);
    expect(result.meanAuc95).toEqual([result.meanAuc, result.meanAuc]);
  });

  it("rejects bad options and tasks that do not share their studies", () => {
    for (const opts of [
      { replicates: 0, seed: 1 },
      { replicates: 2.5, seed: 1 },
      { replicates: 10, seed: -1 },
      { replicates: 10, seed: 2 ** 32 },
      { replicates: 10, seed: 0.5 },
    ]) {
      expect(() => bootstrapAuc(data, opts)).toThrow(ScorerInputError);
    }
    const ragged = { ...data, truth: { ...data.truth, Edema: data.truth.Edema.slice(1) } };
    expect(() => bootstrapAuc(ragged, { replicates: 10, seed: 1 })).toThrow(/^Edema: 499 ground-truth/);
  });
});

describe("pairedComparison", () => {
  const data = synthetic(500, 4);

  it("finds a model not worse than itself, or than a monotone transform of itself", () => {
    // Scaling by 4 is exact in float64: no tie is created or broken, so every AUC is the same.
    const transformed = perTask((t) => data.predictions[TASKS[t]!].map((s) => 4 * s));
    const result = pairedComparison(data.truth, data.predictions, transformed, { replicates: 300, seed: 1 });
    expect(result).toEqual({ pNotWorse: 1, replicates: 300, meanDiff: 0, diff95: [0, 0] });
  });

  it("finds a clearly weaker model really worse", () => {
    const weak = model(data.truth, 77, 0.05);
    const result = pairedComparison(data.truth, data.predictions, weak, { replicates: 1000, seed: 7 });
    expect(result.meanDiff).toBeGreaterThan(0.05);
    expect(result.pNotWorse).toBe(0);
    expect(result.diff95[0]).toBeGreaterThan(0);
  });

  it("does not separate two models of the same quality", () => {
    // Same signal, independent noise: the lower one is behind by chance only.
    const [x, y] = [model(data.truth, 11), model(data.truth, 12)];
    const opts = { replicates: 1000, seed: 7 };
    const forward = pairedComparison(data.truth, x, y, opts);
    const [a, b] = forward.meanDiff >= 0 ? [x, y] : [y, x];
    const result = pairedComparison(data.truth, a, b, opts);
    expect(result.meanDiff).toBeGreaterThanOrEqual(0);
    expect(result.pNotWorse).toBeGreaterThan(0.05);
    expect(result.diff95[0]).toBeLessThan(0);
    expect(result.diff95[1]).toBeGreaterThan(0);
  });

  it("flags a small difference when it is consistent across resamples", () => {
    // The same model with every 20th score replaced by 0.5 loses a little on every resample: a
    // smaller gap than between the two models above, yet a real one. Paired, it shows.
    const noisy = perTask((t) => data.predictions[TASKS[t]!].map((s, i) => (i % 20 === 0 ? 0.5 : s)));
    const result = pairedComparison(data.truth, data.predictions, noisy, { replicates: 1000, seed: 7 });
    expect(result.meanDiff).toBeLessThan(0.01);
    expect(result.pNotWorse).toBeLessThan(0.01);
  });

  it("pairs distributions drawn once per entry, and refuses unpaired ones", () => {
    const opts = { replicates: 200, seed: 3 };
    const a = bootstrapDistribution({ truth: data.truth, predictions: data.predictions }, opts);
    const weak = model(data.truth, 5, 0.1);
    const b = bootstrapDistribution({ truth: data.truth, predictions: weak }, opts);
    expect(compareDistributions(a, b)).toEqual(pairedComparison(data.truth, data.predictions, weak, opts));
    const other = bootstrapDistribution({ truth: data.truth, predictions: weak }, { ...opts, seed: 4 });
    expect(() => compareDistributions(a, other)).toThrow(/different studies, seeds or replicate counts/);
  });
});

describe("percentile", () => {
  it("matches numpy.percentile's default linear method", () => {
    // Expected values printed by numpy 2.4: np.percentile(v, 2.5), np.percentile(v, 97.5).
    const v = Float64Array.from({ length: 37 }, (_, i) => Math.sin(i) * 0.3 + 0.7);
    expect(percentile(v, 2.5)).toBe(0.40222000337383756);
    expect(percentile(v, 97.5)).toBe(0.9974613418408329);
    expect(percentile(Float64Array.of(3, 1, 2), 50)).toBe(2);
    expect(percentile(Float64Array.of(1, 2), 25)).toBe(1.25);
  });
});
