/**
 * ROC curve and AUC, ported from scikit-learn (`roc_curve` with its defaults, `auc`) and numpy
 * (`trapezoid`, `add.reduce`) so that results are bit-identical to the official Python scorer: every
 * float64 operation below happens in the same order as there. Do not "simplify" the arithmetic.
 */
import { ScorerInputError } from "./errors.ts";

/** ROC vertices: fpr and tpr are non-decreasing, start at (0, 0) and end at (1, 1). */
export interface RocCurve {
  readonly fpr: Float64Array;
  readonly tpr: Float64Array;
}

/** Checks labels are 0/1 and scores finite (sklearn's `assert_all_finite`); returns the positive count. */
function checkBinaryInput(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = labels.length;
  if (scores.length !== n) {
    throw new ScorerInputError(`labels and scores differ in length (${n} vs ${scores.length})`);
  }
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const label = labels[i];
    if (label !== 0 && label !== 1) {
      throw new ScorerInputError(`label at index ${i} is ${String(label)}, expected 0 or 1`);
    }
    positives += label;
    if (!Number.isFinite(scores[i])) {
      throw new ScorerInputError(`score at index ${i} is ${String(scores[i])}, expected a finite number`);
    }
  }
  if (positives === 0 || positives === n) {
    // sklearn returns NaN rates here and roc_auc_score raises: the metric is undefined.
    throw new ScorerInputError(
      `ROC AUC is undefined: the ground truth has ${positives} positive and ${n - positives} negative studies; both are needed`,
    );
  }
  return positives;
}

/** Counts at each threshold of scikit-learn's `_binary_clf_curve`, highest score first. */
export interface ThresholdCounts {
  /** Positives scoring >= the threshold, cumulative; the last entry is the positive total. */
  readonly tps: readonly number[];
  /** Negatives scoring >= the threshold, cumulative; the last entry is the negative total. */
  readonly fps: readonly number[];
}

/**
 * scikit-learn's `_binary_clf_curve`: one threshold per distinct score, descending. Shared by the ROC
 * and precision-recall curves. Throws ScorerInputError unless labels are 0/1 with both classes present
 * and scores are finite.
 */
export function thresholdCounts(labels: ArrayLike<number>, scores: ArrayLike<number>): ThresholdCounts {
  checkBinaryInput(labels, scores);
  const n = labels.length;

  // Sort by score descending. The order inside a group of tied scores does not matter (only each
  // group's last index becomes a threshold); ties are broken by index for determinism.
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => {
    const sa = scores[a]!;
    const sb = scores[b]!;
    return sa > sb ? -1 : sa < sb ? 1 : a - b;
  });

  // One threshold at the last index of each group of equal scores: tps = cumulative positives there,
  // fps = 1 + index - tps. Both are small integers, exact in float64.
  const tps: number[] = [];
  const fps: number[] = [];
  let cumulative = 0;
  for (let i = 0; i < n; i++) {
    cumulative += labels[order[i]!]!;
    if (i === n - 1 || scores[order[i]!] !== scores[order[i + 1]!]) {
      tps.push(cumulative);
      fps.push(1 + i - cumulative);
    }
  }
  return { tps, fps };
}

/**
 * scikit-learn's `roc_curve(labels, scores)` with its defaults (drop_intermediate=True).
 * Throws ScorerInputError unless labels are 0/1 with both classes present and scores are finite.
 */
export function rocCurve(labels: ArrayLike<number>, scores: ArrayLike<number>): RocCurve {
  const { tps: allTps, fps: allFps } = thresholdCounts(labels, scores);

  // drop_intermediate: keep the first and last thresholds and every one where the second difference
  // of fps or tps is nonzero, i.e. drop a point whose steps in and out are equal. That includes the
  // middle of a diagonal run of equal tie groups, not only horizontal or vertical runs (which matters
  // for the readers rule: see test/properties.test.ts). sklearn only drops with more than 2 thresholds.
  const m = allTps.length;
  const keep: number[] = [];
  for (let j = 0; j < m; j++) {
    if (m <= 2 || j === 0 || j === m - 1) {
      keep.push(j);
      continue;
    }
    const d2Fps = allFps[j + 1]! - allFps[j]! - (allFps[j]! - allFps[j - 1]!);
    const d2Tps = allTps[j + 1]! - allTps[j]! - (allTps[j]! - allTps[j - 1]!);
    if (d2Fps !== 0 || d2Tps !== 0) keep.push(j);
  }

  // Prepend the (0, 0) point, then normalize by the last (total) count.
  const fpr = new Float64Array(keep.length + 1);
  const tpr = new Float64Array(keep.length + 1);
  const totalFps = allFps[m - 1]!;
  const totalTps = allTps[m - 1]!;
  keep.forEach((j, k) => {
    fpr[k + 1] = allFps[j]! / totalFps;
    tpr[k + 1] = allTps[j]! / totalTps;
  });
  return { fpr, tpr };
}

/** numpy's blocked pairwise summation (`pairwise_sum` in loops_utils.h), as `np.add.reduce` uses it. */
export function pairwiseSum(values: ArrayLike<number>, start = 0, count = values.length - start): number {
  if (count < 8) {
    let res = 0;
    for (let i = start; i < start + count; i++) res += values[i]!;
    return res;
  }
  if (count <= 128) {
    // Eight interleaved accumulators, combined as a balanced tree, then the remainder one by one.
    const r = [0, 1, 2, 3, 4, 5, 6, 7].map((j) => values[start + j]!);
    let i = 8;
    for (; i < count - (count % 8); i += 8) {
      for (let j = 0; j < 8; j++) r[j] = r[j]! + values[start + i + j]!;
    }
    let res = r[0]! + r[1]! + (r[2]! + r[3]!) + (r[4]! + r[5]! + (r[6]! + r[7]!));
    for (; i < count; i++) res += values[start + i]!;
    return res;
  }
  // Split in two halves, the first a multiple of 8 long.
  let half = Math.floor(count / 2);
  half -= half % 8;
  return pairwiseSum(values, start, half) + pairwiseSum(values, start + half, count - half);
}

/**
 * numpy's `trapezoid(y, x)`: `(diff(x) * (y[1:] + y[:-1]) / 2.0).sum()`. The reduction starts from
 * numpy's identity 0.0 (checked against numpy 2.4: `0.0 + pairwise_sum(all)`, not `a[0] + rest`).
 */
export function trapezoid(y: ArrayLike<number>, x: ArrayLike<number>): number {
  if (x.length !== y.length) throw new ScorerInputError("trapezoid: x and y differ in length");
  const terms = new Float64Array(Math.max(0, x.length - 1));
  for (let i = 0; i < terms.length; i++) {
    terms[i] = ((x[i + 1]! - x[i]!) * (y[i + 1]! + y[i]!)) / 2.0;
  }
  return 0 + pairwiseSum(terms);
}

/** Area under a ROC curve, as sklearn's `auc(fpr, tpr)` (fpr never decreases, so direction is +1). */
export function aucOfCurve(roc: RocCurve): number {
  return trapezoid(roc.tpr, roc.fpr);
}

/**
 * ROC AUC as scikit-learn's `roc_auc_score` for binary labels (tied scores count one half). Throws
 * ScorerInputError when the labels have no positives or no negatives.
 */
export function auc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  return aucOfCurve(rocCurve(labels, scores));
}
