/**
 * Properties of the metric that must hold for every input, checked on small random inputs. Scores
 * come from a small integer grid so that ties, the tricky case of every rule here, are frequent.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  auc,
  bootstrapAuc,
  isBelowCurve,
  rankEntries,
  readerPoint,
  rocCurve,
  TASKS,
  weightedAuc,
  type PerTask,
} from "@holdout/scorer";

const RUNS = { numRuns: 150 };

/** 0/1 labels with at least `min` of each class, and integer scores in 0..grid aligned with them. */
function labelled(opts: { minLength?: number; maxLength?: number; min?: number; grid?: number } = {}) {
  const { minLength = 2, maxLength = 30, min = 1, grid = 8 } = opts;
  return fc
    .array(fc.record({ label: fc.constantFrom(0, 1), score: fc.integer({ min: 0, max: grid }) }), {
      minLength,
      maxLength,
    })
    .filter((rows) => {
      const positives = rows.filter((r) => r.label === 1).length;
      return positives >= min && rows.length - positives >= min;
    })
    .map((rows) => ({ labels: rows.map((r) => r.label), scores: rows.map((r) => r.score) }));
}

describe("AUC", () => {
  it("is unchanged by strictly increasing transforms of the scores (only the order matters)", () => {
    // On the integer grid these transforms are strictly increasing in float64 too, so the ROC
    // vertices are the same arrays and the AUC is the same to the bit.
    const transforms = [(s: number) => 3 * s - 7, (s: number) => s ** 3, (s: number) => Math.exp(s / 3)];
    fc.assert(
      fc.property(labelled(), fc.constantFrom(...transforms), ({ labels, scores }, f) => {
        expect(auc(labels, scores.map(f))).toBe(auc(labels, scores));
      }),
      RUNS,
    );
  });

  it("of the negated scores is 1 - AUC (ties stay ties and count one half either way)", () => {
    fc.assert(
      fc.property(labelled(), ({ labels, scores }) => {
        // Not to the bit: the trapezoids are summed in another order.
        expect(
          auc(
            labels,
            scores.map((s) => -s),
          ),
        ).toBeCloseTo(1 - auc(labels, scores), 12);
      }),
      RUNS,
    );
  });

  it("weighted with all-ones weights equals the official AUC", () => {
    fc.assert(
      fc.property(labelled(), ({ labels, scores }) => {
        // Mann-Whitney count vs sklearn's trapezoids: same value, different rounding.
        expect(
          weightedAuc(
            labels,
            scores,
            labels.map(() => 1),
          ),
        ).toBeCloseTo(auc(labels, scores), 14);
      }),
      RUNS,
    );
  });
});

describe("radiologists below the curve", () => {
  // "More separating": every positive's score goes up by δ > 0 and no positive ends up tied with a
  // negative (δ = k + 1/2 on the integer grid). The ROC point of every threshold then has the same fpr
  // and a tpr at least as high, and, with no mixed tie groups, no diagonal run exists for sklearn's
  // drop_intermediate to thin, so the vertex before x is never lower than before. Without the
  // no-tie condition the count CAN drop: see the next test.
  it("never drops when the model's scores become more separating", () => {
    fc.assert(
      fc.property(
        labelled(),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 0, max: 9 }),
        fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
        ({ labels, scores }, k, threshold, flips) => {
          // A reader near the curve (the model thresholded, a few reads flipped): that is where the
          // comparison tpr[i-1] >= sensitivity is close and a wrong rule would show.
          const reads = scores.map((s, i) => Number(s >= threshold !== (flips[i]! && i % 3 === 0)));
          const point = readerPoint(labels, reads);
          const better = scores.map((s, i) => s + labels[i]! * (k + 0.5));
          if (isBelowCurve(rocCurve(labels, scores), point)) {
            expect(isBelowCurve(rocCurve(labels, better), point)).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("can drop when a better model ties a positive with a negative (the official rule's quirk)", () => {
    // Positives p1 p2 p3, negatives n1..n4. Before: p1 10, n1 5, p2 4.5, n2 3, p3 2.5, n3 1, n4 0.5
    // (AUC 9/12). Adding 0.5 to the positives ties p2 with n1 and p3 with n2 (AUC 10/12): the points
    // (0,1) (1,2) (2,3) (counts fps, tps) take equal diagonal steps, drop_intermediate removes (1,2),
    // and the vertex before x = 0.5 falls from tpr 2/3 to 1/3.
    const labels = [1, 0, 1, 0, 1, 0, 0];
    const before = [10, 5, 4.5, 3, 2.5, 1, 0.5];
    const after = before.map((s, i) => s + labels[i]! * 0.5);
    const point = readerPoint(labels, [1, 1, 1, 1, 0, 0, 0]); // specificity 1/2, sensitivity 2/3
    expect(auc(labels, after)).toBeGreaterThan(auc(labels, before));
    expect(isBelowCurve(rocCurve(labels, before), point)).toBe(true);
    expect(isBelowCurve(rocCurve(labels, after), point)).toBe(false);
  });
});

describe("bootstrap interval", () => {
  // A percentile interval is not guaranteed to contain the estimate in general (a skewed bootstrap
  // distribution can sit beside it); for the AUC a search over 40,000 inputs of 2..40 studies found
  // one way only: rounding (a perfect ranking's official 0.9999999999999999 outside [1, 1]), which the
  // bootstrap now corrects. The generator still asks for 4+ studies per class, the regime that matters,
  // so that a rare small-sample case cannot make this suite flaky.
  const perTask = labelled({ minLength: 10, maxLength: 30, min: 4 });

  it("contains the point estimate", () => {
    fc.assert(
      fc.property(perTask, fc.nat({ max: 0xffff_ffff }), ({ labels, scores }, seed) => {
        // Five tasks on the same studies, each with its own scores: rotate the score vector per task.
        const n = labels.length;
        const make = <T>(f: (t: number) => T) =>
          Object.fromEntries(TASKS.map((task, t) => [task, f(t)])) as PerTask<T>;
        const truth = make(() => labels);
        const predictions = make((t) => scores.map((_, i) => scores[(i + t) % n]!));
        const result = bootstrapAuc({ truth, predictions }, { replicates: 200, seed });
        for (const {
          auc: point,
          auc95: [lo, hi],
        } of result.tasks) {
          expect(lo).toBeLessThanOrEqual(point);
          expect(hi).toBeGreaterThanOrEqual(point);
        }
        expect(result.meanAuc95[0]).toBeLessThanOrEqual(result.meanAuc);
        expect(result.meanAuc95[1]).toBeGreaterThanOrEqual(result.meanAuc);
      }),
      { numRuns: 100 },
    );
  });
});

describe("rankEntries", () => {
  it("ranks are a dense ranking of the scores", () => {
    // Few distinct values so that exactly equal scores are common.
    const entry = fc.record({
      meanAuc: fc.constantFrom(0.7, 0.8, 0.85, 0.9),
      meanRadsBelowCurve: fc.constantFrom(0, 0.4, 1.2, 3),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 20 }), (entries) => {
        const ranked = rankEntries(entries);
        const distinct = [...new Set(ranked.map((e) => e.score))];
        for (const [i, e] of ranked.entries()) {
          if (i > 0) expect(e.score).toBeLessThanOrEqual(ranked[i - 1]!.score);
          // Dense: 1 + the number of distinct scores above it (no gaps after ties).
          expect(e.rank).toBe(1 + distinct.filter((s) => s > e.score).length);
        }
        expect(ranked).toHaveLength(entries.length);
      }),
      RUNS,
    );
  });
});
