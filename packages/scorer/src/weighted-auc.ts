/**
 * ROC AUC with per-study weights, as a weighted Mann–Whitney count over a score order sorted once.
 * This is the bootstrap's inner loop: a resample is a vector of multiplicities (how many times each
 * study was drawn), so its AUC is the weighted AUC of the original studies and needs no re-sorting.
 * Not the official computation (that is `auc` in roc.ts, sklearn's trapezoids): results agree to
 * ~1e-15, not bit for bit, which is irrelevant for interval ends but means the two are not mixed.
 */
import { ScorerInputError } from "./errors.ts";

/**
 * One task's studies, prepared once and reused by every replicate: the negatives in ascending score
 * order, and for each positive how many negatives score below it and how many at most as high.
 */
export interface SortedScores {
  /** Study indices of the negatives, ascending score. */
  readonly negatives: Int32Array;
  /** Study indices of the positives, ascending score. */
  readonly positives: Int32Array;
  /** Per positive: the number of negatives scoring strictly lower. */
  readonly below: Int32Array;
  /** Per positive: the number of negatives scoring lower or equal (ties). */
  readonly belowOrTied: Int32Array;
  /** Scratch space for the negatives' prefix sums (the callers are synchronous, so one suffices). */
  readonly prefix: Float64Array;
}

/** Sorts one task's studies by score. Labels must be 0/1 and scores finite (checked by the callers). */
export function sortScores(labels: ArrayLike<number>, scores: ArrayLike<number>): SortedScores {
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i);
  // Finite scores: a - b is 0 only for equal scores (gradual underflow), and never NaN.
  order.sort((a, b) => scores[a]! - scores[b]! || a - b);
  const negatives: number[] = [];
  const positives: number[] = [];
  const below: number[] = [];
  const belowOrTied: number[] = [];
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && scores[order[end]!] === scores[order[start]!]) end++;
    const before = negatives.length;
    for (let k = start; k < end; k++) if (labels[order[k]!] === 0) negatives.push(order[k]!);
    for (let k = start; k < end; k++) {
      if (labels[order[k]!] !== 1) continue;
      positives.push(order[k]!);
      below.push(before);
      belowOrTied.push(negatives.length);
    }
    start = end;
  }
  return {
    negatives: Int32Array.from(negatives),
    positives: Int32Array.from(positives),
    below: Int32Array.from(below),
    belowOrTied: Int32Array.from(belowOrTied),
    prefix: new Float64Array(negatives.length + 1),
  };
}

/**
 * Weighted AUC over pre-sorted scores, or NaN when the weights leave no positive or no negative.
 * With W(k) the weight of the k lowest-scoring negatives, each positive i adds
 * w_i * (W(below_i) + W(belowOrTied_i)) = w_i * (2 * negatives below + tied negatives) to 2U, and
 * AUC = 2U / (2 * P * N): every (positive, negative) pair weighs w_pos * w_neg and a tied pair one
 * half, as in `roc_auc_score`. With integer weights (bootstrap counts) every sum and product is an
 * exact integer below 2^53, so the result is the exactly rounded ratio. Two short loops without a
 * branch on the label: this runs 10,000 times for a 2,000-replicate bootstrap.
 */
export function weightedAucSorted(sorted: SortedScores, weights: Float64Array): number {
  const { negatives, positives, below, belowOrTied, prefix } = sorted;
  let negTotal = 0;
  prefix[0] = 0;
  for (let k = 0; k < negatives.length; k++) {
    negTotal += weights[negatives[k]!]!;
    prefix[k + 1] = negTotal;
  }
  let twiceU = 0;
  let posTotal = 0;
  for (let k = 0; k < positives.length; k++) {
    const w = weights[positives[k]!]!;
    posTotal += w;
    twiceU += w * (prefix[below[k]!]! + prefix[belowOrTied[k]!]!);
  }
  return posTotal === 0 || negTotal === 0 ? Number.NaN : twiceU / (2 * posTotal * negTotal);
}

/**
 * ROC AUC of `scores` against 0/1 `labels`, each study counted `weights[i]` times (finite, >= 0).
 * With all-ones weights it is `auc(labels, scores)` up to float rounding; with integer weights it is
 * the AUC of the data set in which study i appears weights[i] times. Throws ScorerInputError on bad
 * input or when the weighted data have no positive or no negative.
 */
export function weightedAuc(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  weights: ArrayLike<number>,
): number {
  const n = labels.length;
  if (scores.length !== n || weights.length !== n) {
    throw new ScorerInputError(
      `labels, scores and weights differ in length (${n}, ${scores.length}, ${weights.length})`,
    );
  }
  for (let i = 0; i < n; i++) {
    if (labels[i] !== 0 && labels[i] !== 1) {
      throw new ScorerInputError(`label at index ${i} is ${String(labels[i])}, expected 0 or 1`);
    }
    if (!Number.isFinite(scores[i])) {
      throw new ScorerInputError(`score at index ${i} is ${String(scores[i])}, expected a finite number`);
    }
    const w = weights[i]!;
    if (!Number.isFinite(w) || w < 0) {
      throw new ScorerInputError(`weight at index ${i} is ${String(w)}, expected a finite number >= 0`);
    }
  }
  const result = weightedAucSorted(sortScores(labels, scores), Float64Array.from(weights));
  if (Number.isNaN(result)) {
    throw new ScorerInputError("weighted ROC AUC is undefined: no positive or no negative weight");
  }
  return result;
}
