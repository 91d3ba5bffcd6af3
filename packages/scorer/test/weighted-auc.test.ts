import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { auc, ScorerInputError, weightedAuc } from "@holdout/scorer";

/** The data set in which study i appears counts[i] times: what a bootstrap replicate stands for. */
function materialise(labels: number[], scores: number[], counts: number[]) {
  const out = { labels: [] as number[], scores: [] as number[] };
  counts.forEach((count, i) => {
    for (let c = 0; c < count; c++) {
      out.labels.push(labels[i]!);
      out.scores.push(scores[i]!);
    }
  });
  return out;
}

describe("weightedAuc", () => {
  it("equals the plain AUC of the materialised resample", () => {
    const rows = fc.array(
      fc.record({
        label: fc.constantFrom(0, 1),
        score: fc.integer({ min: 0, max: 6 }),
        count: fc.integer({ min: 0, max: 3 }),
      }),
      { minLength: 2, maxLength: 40 },
    );
    fc.assert(
      fc.property(rows, (r) => {
        const [labels, scores, counts] = [
          r.map((x) => x.label),
          r.map((x) => x.score),
          r.map((x) => x.count),
        ];
        const m = materialise(labels, scores, counts);
        fc.pre(m.labels.includes(0) && m.labels.includes(1));
        // Exact rational vs sklearn's trapezoids: equal up to float rounding.
        expect(weightedAuc(labels, scores, counts)).toBeCloseTo(auc(m.labels, m.scores), 14);
      }),
      { numRuns: 200 },
    );
  });

  it("weighs each (positive, negative) pair by the product of their weights, ties one half", () => {
    // Positives 0.9 (w 2) and 0.5 (w 1); negatives 0.9 (w 1) and 0.1 (w 3). Pair weights:
    // (0.9+, 0.9-) 2 x 1/2, (0.9+, 0.1-) 6 x 1, (0.5+, 0.9-) 1 x 0, (0.5+, 0.1-) 3 x 1 -> 10 / (3 * 4).
    expect(weightedAuc([1, 0, 1, 0], [0.9, 0.9, 0.5, 0.1], [2, 1, 1, 3])).toBe(10 / 12);
  });

  it("rejects weights that are negative or not finite, and weights leaving one class only", () => {
    expect(() => weightedAuc([1, 0], [1, 0], [1, -1])).toThrow(/weight at index 1/);
    expect(() => weightedAuc([1, 0], [1, 0], [Number.NaN, 1])).toThrow(ScorerInputError);
    expect(() => weightedAuc([1, 0], [1, 0], [1])).toThrow(/length/);
    expect(() => weightedAuc([1, 0, 1], [1, 0, 2], [1, 0, 1])).toThrow(/no positive or no negative/);
  });
});
