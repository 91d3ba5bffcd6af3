import { describe, expect, it } from "vitest";
import { isBelowCurve, readerPoint, rocCurve, type RocCurve } from "@holdout/scorer";

// The sklearn documentation example: fpr [0, 0, .5, .5, 1], tpr [0, .5, .5, 1, 1].
const roc = rocCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]);

describe("readerPoint", () => {
  it("is (tn/(tn+fp), tp/(tp+fn)) against the ground truth", () => {
    // truth 1 1 1 0 0 / reads 1 0 1 1 0: tp 2, fn 1, fp 1, tn 1 -> specificity 1/2, sensitivity 2/3.
    expect(readerPoint([1, 1, 1, 0, 0], [1, 0, 1, 1, 0])).toEqual({ specificity: 0.5, sensitivity: 2 / 3 });
  });

  it("rejects reads that are not aligned or not binary, and truth without both classes", () => {
    expect(() => readerPoint([1, 0], [1])).toThrow(/length/);
    expect(() => readerPoint([1, 0], [1, 0.5])).toThrow(/0 or 1/);
    expect(() => readerPoint([1, 1], [1, 0])).toThrow(/0 negative/);
  });
});

describe("isBelowCurve (the official rule, numpy semantics)", () => {
  it("compares with the tpr of the vertex before the first fpr >= 1 - specificity", () => {
    // x = 1 - 0.5 = 0.5: first fpr >= 0.5 is index 2, tpr[1] = 0.5.
    expect(isBelowCurve(roc, { specificity: 0.5, sensitivity: 0.5 })).toBe(true); // 0.5 >= 0.5
    expect(isBelowCurve(roc, { specificity: 0.5, sensitivity: 0.6 })).toBe(false); // 0.5 < 0.6
    // x = 0.25: first fpr >= 0.25 is again index 2, tpr[1] = 0.5.
    expect(isBelowCurve(roc, { specificity: 0.75, sensitivity: 0.5 })).toBe(true);
    // x = 1: first fpr >= 1 is index 4, tpr[3] = 1.
    expect(isBelowCurve(roc, { specificity: 0, sensitivity: 1 })).toBe(true);
  });

  it("wraps to the last tpr when i == 0, as numpy's tpr[-1] does", () => {
    // Specificity 1 -> x = 0 -> i = 0 (fpr[0] = 0 >= 0) -> tpr[i-1] = tpr[-1] = 1 >= 0.99: below.
    // Geometrically the curve only reaches tpr 0.5 at fpr 0, so a naive port would say "not below".
    expect(isBelowCurve(roc, { specificity: 1, sensitivity: 0.99 })).toBe(true);
  });

  it("falls back to index 0 like np.argmax when no fpr reaches x", () => {
    // Not a valid ROC curve (fpr never reaches 1), to pin down argmax(all false) == 0 -> tpr[-1] = 0.25.
    const partial: RocCurve = { fpr: Float64Array.of(0, 0.5), tpr: Float64Array.of(0, 0.25) };
    expect(isBelowCurve(partial, { specificity: 0.2, sensitivity: 0.2 })).toBe(true);
    expect(isBelowCurve(partial, { specificity: 0.2, sensitivity: 0.3 })).toBe(false);
  });
});
