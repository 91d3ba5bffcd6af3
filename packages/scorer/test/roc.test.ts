import { describe, expect, it } from "vitest";
import { auc, pairwiseSum, rocCurve, ScorerInputError, trapezoid } from "@holdout/scorer";

const arr = (a: Float64Array) => Array.from(a);

describe("rocCurve (sklearn roc_curve, drop_intermediate=True)", () => {
  it("gives the vertices of the sklearn documentation example", () => {
    // Sorted by score: 0.8(+) 0.4(-) 0.35(+) 0.1(-), all distinct, so 4 thresholds:
    // tps = [1,1,2,2], fps = [0,1,1,2]. Second differences: fps [-1,1], tps [-1,1]: all nonzero, keep all.
    // Prepend (0,0) and divide by fps[-1] = 2, tps[-1] = 2.
    const roc = rocCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]);
    expect(arr(roc.fpr)).toEqual([0, 0, 0.5, 0.5, 1]);
    expect(arr(roc.tpr)).toEqual([0, 0.5, 0.5, 1, 1]);
  });

  it("drops points collinear with both neighbours but keeps the first threshold", () => {
    // Perfect ranking of 3 positives above 3 negatives, 6 distinct scores:
    // tps = [1,2,3,3,3,3], fps = [0,0,0,1,2,3].
    // diff(fps) = [0,0,1,1,1] -> 2nd diff [0,1,0,0]; diff(tps) = [1,1,0,0,0] -> 2nd diff [0,-1,0,0].
    // Keep j=0 (first), j=2 (2nd diff at j-1=1 nonzero), j=5 (last): tps [1,3,3], fps [0,0,3].
    const roc = rocCurve([1, 1, 1, 0, 0, 0], [6, 5, 4, 3, 2, 1]);
    expect(arr(roc.fpr)).toEqual([0, 0, 0, 1]);
    expect(arr(roc.tpr)).toEqual([0, 1 / 3, 1, 1]);
  });

  it("puts one threshold per group of tied scores", () => {
    // Scores 0.9(+) 0.9(-) tie, then 0.5(+), 0.1(-): thresholds after the tie group, 0.5, 0.1:
    // tps = [1,2,2], fps = [1,1,2]; 3 thresholds, 2nd diffs fps [1], tps [-1]: keep all.
    const roc = rocCurve([1, 0, 1, 0], [0.9, 0.9, 0.5, 0.1]);
    expect(arr(roc.fpr)).toEqual([0, 0.5, 0.5, 1]);
    expect(arr(roc.tpr)).toEqual([0, 0.5, 1, 1]);
  });

  it("does not drop anything with two thresholds or fewer", () => {
    // Two thresholds: tps [1,1], fps [0,1]; sklearn only drops when there are more than 2.
    expect(arr(rocCurve([1, 0], [1, 0]).fpr)).toEqual([0, 0, 1]);
    // One threshold (all scores equal): the diagonal.
    const flat = rocCurve([1, 0, 1], [0.5, 0.5, 0.5]);
    expect(arr(flat.fpr)).toEqual([0, 1]);
    expect(arr(flat.tpr)).toEqual([0, 1]);
  });

  it("rejects labels without both classes, non-binary labels, non-finite scores and ragged input", () => {
    expect(() => rocCurve([1, 1], [0.2, 0.3])).toThrow(/0 negative/);
    expect(() => rocCurve([0, 0], [0.2, 0.3])).toThrow(/0 positive/);
    expect(() => rocCurve([0, 2], [0.2, 0.3])).toThrow(ScorerInputError);
    expect(() => rocCurve([0, 1], [0.2, Number.NaN])).toThrow(/index 1.*finite/);
    expect(() => rocCurve([0, 1], [0.2, Number.POSITIVE_INFINITY])).toThrow(/finite/);
    expect(() => rocCurve([0, 1, 1], [0.2, 0.3])).toThrow(/length/);
  });
});

describe("auc (sklearn roc_auc_score)", () => {
  it("is the trapezoidal area over the vertices", () => {
    // Vertices (0,0) (0,.5) (.5,.5) (.5,1) (1,1): strips 0 + .5*(.5+.5)/2 + 0 + .5*(1+1)/2 = .25 + .5.
    expect(auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBe(0.75);
  });

  it("counts a tied positive/negative pair as one half", () => {
    // Pairs (pos, neg): (0.9, 0.9) tie = 1/2, (0.9, 0.1) = 1, (0.5, 0.9) = 0, (0.5, 0.1) = 1 -> 2.5/4.
    // Trapezoids over (0,0) (.5,.5) (.5,1) (1,1): .5*(0+.5)/2 + 0 + .5*(1+1)/2 = .125 + .5.
    expect(auc([1, 0, 1, 0], [0.9, 0.9, 0.5, 0.1])).toBe(0.625);
    // All scores tied: every pair counts one half.
    expect(auc([1, 0, 1, 0], [3, 3, 3, 3])).toBe(0.5);
  });

  it("is 1 for a perfect ranking and 0 for a reversed one", () => {
    expect(auc([1, 1, 0, 0], [4, 3, 2, 1])).toBe(1);
    expect(auc([1, 1, 0, 0], [1, 2, 3, 4])).toBe(0);
  });

  it("throws a clear error when a task has no positives", () => {
    expect(() => auc([0, 0, 0], [0.1, 0.2, 0.3])).toThrow(/0 positive and 3 negative/);
  });
});

describe("numpy summation order", () => {
  it("sums like numpy's pairwise_sum: eight accumulators combined as a tree", () => {
    // 1 followed by fifteen 2^-53. Left to right, 1 + 2^-53 rounds back to 1 every time: total 1.
    // numpy: r[0] = 1 + 2^-53 = 1 (tie to even); r[1..7] = 2^-53 + 2^-53 = 2^-52 each;
    // ((r0+r1) + (r2+r3)) + ((r4+r5) + (r6+r7)) = (1 + 2^-52 + 2^-51) + 2^-50 = 1 + 7 * 2^-52, exact.
    const values = [1, ...Array<number>(15).fill(2 ** -53)];
    expect(values.reduce((a, b) => a + b, 0)).toBe(1);
    expect(pairwiseSum(values)).toBe(1 + 7 * 2 ** -52);
  });

  it("computes trapezoid as (dx * (y[i+1] + y[i])) / 2", () => {
    // x = [0, .5, 1], y = [0, 1, 1]: .5*(1+0)/2 + .5*(1+1)/2 = .25 + .5.
    expect(trapezoid([0, 1, 1], [0, 0.5, 1])).toBe(0.75);
    expect(trapezoid([1], [0])).toBe(0);
  });
});
