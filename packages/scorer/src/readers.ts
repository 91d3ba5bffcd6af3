/** Benchmark radiologists: their operating point and whether a model's ROC curve lies above it. */
import { ScorerInputError } from "./errors.ts";
import type { RocCurve } from "./roc.ts";

export interface ReaderPoint {
  readonly specificity: number;
  readonly sensitivity: number;
}

/** A reader's confusion matrix against the ground truth. */
export interface ConfusionCounts {
  readonly tp: number;
  readonly fn: number;
  readonly tn: number;
  readonly fp: number;
}

/**
 * Counts binarized reads against the ground truth. Throws unless both are 0/1, aligned, and the
 * truth has both classes (otherwise sensitivity or specificity is undefined).
 */
export function confusionCounts(truth: ArrayLike<number>, reads: ArrayLike<number>): ConfusionCounts {
  if (truth.length !== reads.length) {
    throw new ScorerInputError(`truth and reads differ in length (${truth.length} vs ${reads.length})`);
  }
  let tp = 0;
  let fn = 0;
  let tn = 0;
  let fp = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    const r = reads[i];
    if ((t !== 0 && t !== 1) || (r !== 0 && r !== 1)) {
      throw new ScorerInputError(`truth/read at index ${i} is ${String(t)}/${String(r)}, expected 0 or 1`);
    }
    if (t === 1) {
      if (r === 1) tp++;
      else fn++;
    } else if (r === 1) fp++;
    else tn++;
  }
  if (tp + fn === 0 || tn + fp === 0) {
    throw new ScorerInputError(
      `reader point is undefined: the ground truth has ${tp + fn} positive and ${tn + fp} negative studies; both are needed`,
    );
  }
  return { tp, fn, tn, fp };
}

/** A reader's (specificity, sensitivity) = (tn/(tn+fp), tp/(tp+fn)) against the ground truth, in float64. */
export function readerPoint(truth: ArrayLike<number>, reads: ArrayLike<number>): ReaderPoint {
  const { tp, fn, tn, fp } = confusionCounts(truth, reads);
  return { specificity: tn / (tn + fp), sensitivity: tp / (tp + fn) };
}

/**
 * The official "radiologist below the curve" rule, ported as written from the numpy original:
 *
 *     x = 1 - specificity
 *     i = np.argmax(fpr >= x)          # first index with fpr[i] >= x
 *     below = tpr[i - 1] >= sensitivity
 *
 * Two numpy semantics are kept on purpose because they reproduce the official leaderboard:
 * - when i == 0 (only possible if x <= 0, i.e. a reader with specificity 1), `tpr[i - 1]` is `tpr[-1]`,
 *   the LAST element, which is 1.0: such a reader always counts as below the curve;
 * - `np.argmax` of an all-false array returns 0, so "no index satisfies fpr >= x" (impossible for a
 *   valid curve, whose last fpr is 1) falls into the same wrap-around case.
 * Note the rule compares against the vertex before the crossing, not an interpolated curve.
 */
export function isBelowCurve(roc: RocCurve, point: ReaderPoint): boolean {
  const { fpr, tpr } = roc;
  if (fpr.length === 0 || fpr.length !== tpr.length) {
    throw new ScorerInputError("isBelowCurve: the ROC curve is empty or fpr/tpr differ in length");
  }
  const x = 1 - point.specificity;
  let i = fpr.findIndex((f) => f >= x);
  if (i === -1) i = 0; // np.argmax(all false) == 0
  const previous = i === 0 ? tpr.length - 1 : i - 1; // numpy: index -1 is the last element
  return tpr[previous]! >= point.sensitivity;
}
