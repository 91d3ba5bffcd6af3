/**
 * Bootstrap uncertainty for the AUCs: 95% confidence intervals per task and for the mean, and a paired
 * comparison of two submissions, for the leaderboard's "statistically tied with the leader" mark.
 *
 * The scheme, and why it is the right one here:
 * - The unit of sampling is the study (one patient visit): the test set is a sample of studies from
 *   the population the AUC describes, so a replicate draws n studies with replacement from the n.
 * - One draw of study indices serves all the tasks of a replicate (CheXpert's five, or a mean-auc
 *   set's). The tasks are labelled on the same studies and a model's errors are correlated across
 *   them (a poor image is poor for every task), so resampling tasks independently would understate
 *   the spread of the mean AUC.
 * - The interval is the percentile interval: the 2.5th and 97.5th percentiles of the replicate AUCs
 *   (numpy.percentile's default, linear interpolation). It needs no normality and stays inside [0, 1].
 * - A replicate in which some task has no positive or no negative study has no AUC for that task; it
 *   is skipped for every task and for the mean (the five must come from the same resample) and counted
 *   in `degenerate`. The intervals are thus conditional on both classes being present, as the point
 *   estimate is. Whether a replicate is degenerate depends on the truth and the draw only, never on the
 *   predictions, so submissions scored against the same truth keep exactly the same replicates.
 * - Deterministic for a seed: replicate r of any call with the same seed and the same number of
 *   studies uses the same resample, whatever the predictions. That is what makes comparisons paired.
 *
 * Speed: each task is sorted once; a replicate is a vector of multiplicities (n uniform draws into a
 * counts array) and each task's AUC a weighted Mann–Whitney count over that fixed order (see
 * weighted-auc.ts): nothing is re-sorted or materialised per replicate.
 */
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";
import { forTask, ScorerInputError } from "./errors.ts";
import { auc } from "./roc.ts";
import { chexpertTasks, perTask, type PerTask, type Task } from "./tasks.ts";
import { sortScores, weightedAucSorted, type SortedScores } from "./weighted-auc.ts";

export interface BootstrapOptions {
  /** Replicates to draw (an integer >= 1). */
  readonly replicates: number;
  /** An integer 0..2^32-1; the same seed gives the same resamples. */
  readonly seed: number;
}

/** Arrays aligned by study index, the same studies for every task. */
export interface BootstrapInput<K extends string = Task> {
  readonly truth: PerTask<ArrayLike<number>, K>;
  readonly predictions: PerTask<ArrayLike<number>, K>;
}

export type Interval = [lo: number, hi: number];

/** The replicate AUCs of one submission, for intervals and for paired comparisons. */
export interface BootstrapDistribution<K extends string = Task> {
  /** The tasks, in the order results list them (TASKS, or the list given). */
  readonly taskOrder: readonly K[];
  readonly studies: number;
  readonly seed: number;
  /** Replicates drawn, kept or not. */
  readonly drawn: number;
  /** Drawn replicates skipped because some task had no positive or no negative study in them. */
  readonly degenerate: number;
  /** Official point estimates (sklearn's roc_auc_score), as scoreTasks computes them. */
  readonly auc: PerTask<number, K>;
  readonly meanAuc: number;
  /** Per task, one AUC per kept replicate, in draw order. */
  readonly tasks: PerTask<Float64Array, K>;
  /** Per kept replicate, the mean of its task AUCs. */
  readonly mean: Float64Array;
}

export interface BootstrapAucResult<K extends string = Task> {
  /** In task order. */
  tasks: { task: K; auc: number; auc95: Interval }[];
  meanAuc: number;
  meanAuc95: Interval;
  /** Replicates the intervals are computed from (drawn minus degenerate). */
  replicates: number;
  degenerate: number;
}

export interface PairedComparison {
  /**
   * The fraction of replicates in which b's mean AUC is >= a's: the bootstrap probability that b (the
   * lower-ranked) is not really worse than a. Below 0.05, a's lead is unlikely to be an accident of
   * which studies made the test set; equivalently, 0 lies outside the one-sided 95% percentile
   * interval of the difference.
   */
  pNotWorse: number;
  /** Replicates compared (drawn minus degenerate). */
  replicates: number;
  /** meanAuc(a) - meanAuc(b) on the test set itself (official point estimates). */
  meanDiff: number;
  /** Percentile 95% interval of meanAuc(a) - meanAuc(b) over the replicates. */
  diff95: Interval;
}

const UINT32_MAX = 0xffff_ffff;

function checkOptions({ replicates, seed }: BootstrapOptions): void {
  if (!Number.isInteger(replicates) || replicates < 1) {
    throw new ScorerInputError(`replicates must be an integer >= 1, got ${replicates}`);
  }
  // pure-rand keeps 32 bits of the seed: refuse others rather than silently alias them.
  if (!Number.isInteger(seed) || seed < 0 || seed > UINT32_MAX) {
    throw new ScorerInputError(`seed must be an integer from 0 to ${UINT32_MAX}, got ${seed}`);
  }
}

const TWO_32 = 4_294_967_296;

/**
 * The resample as multiplicities: n uniform draws of a study index, counted into `counts`.
 * Each draw is exactly pure-rand's `uniformInt(rng, 0, n - 1)` (same rejection bound, same value;
 * test/bootstrap.test.ts replays it), but computes `d % n` as `d - floor(d / n) * n`: V8 runs a
 * float `%` by a variable as a library call, which made the draws 3x slower. The two agree for
 * d < 2^53: the rounded quotient cannot reach the next integer, so the floor is exact.
 */
function drawCounts(rng: RandomGenerator, counts: Float64Array): void {
  const n = counts.length;
  const maxAllowed = n > 2 ? Math.floor(TWO_32 / n) * n : TWO_32;
  counts.fill(0);
  for (let k = 0; k < n; k++) {
    let d = rng.next() + 2_147_483_648; // uniform over 0..2^32-1
    while (d >= maxAllowed) d = rng.next() + 2_147_483_648;
    counts[d - Math.floor(d / n) * n]!++;
  }
}

/** The hot loop: tasks indexed by number rather than by name, no allocation per replicate. */
function resample(sorted: SortedScores[], offsets: Float64Array, n: number, opts: BootstrapOptions) {
  const values = sorted.map(() => new Float64Array(opts.replicates));
  const mean = new Float64Array(opts.replicates);
  const replicate = new Float64Array(sorted.length);
  const rng = xoroshiro128plus(opts.seed);
  const counts = new Float64Array(n);
  let kept = 0;
  replicates: for (let r = 0; r < opts.replicates; r++) {
    drawCounts(rng, counts);
    for (let t = 0; t < sorted.length; t++) {
      const value = weightedAucSorted(sorted[t]!, counts);
      if (Number.isNaN(value)) continue replicates; // degenerate: skip the whole replicate
      // The clamp keeps a shifted 1 (or 0) from leaving [0, 1] by an ulp.
      replicate[t] = Math.min(1, Math.max(0, value + offsets[t]!));
    }
    let sum = 0;
    for (let t = 0; t < sorted.length; t++) {
      values[t]![kept] = replicate[t]!;
      sum += replicate[t]!;
    }
    mean[kept] = sum / sorted.length;
    kept++;
  }
  return { values, mean, kept };
}

/**
 * Draws `opts.replicates` resamples of the studies and computes every task's AUC (the five CheXpert
 * tasks, or those of `taskList`) and the mean AUC in each. Throws ScorerInputError (naming the task)
 * when a task cannot be scored, when the tasks do not share the same studies, or when every
 * replicate is degenerate.
 */
export function bootstrapDistribution(input: BootstrapInput, opts: BootstrapOptions): BootstrapDistribution;
export function bootstrapDistribution<K extends string>(
  input: BootstrapInput<K>,
  opts: BootstrapOptions,
  taskList: readonly K[],
): BootstrapDistribution<K>;
export function bootstrapDistribution<K extends string>(
  input: BootstrapInput<K>,
  opts: BootstrapOptions,
  taskList: readonly K[] = chexpertTasks(),
): BootstrapDistribution<K> {
  checkOptions(opts);
  const first = taskList[0];
  if (first === undefined) throw new ScorerInputError("no tasks to score");
  const n = input.truth[first].length;
  const pointAuc = {} as PerTask<number, K>;
  const sorted = {} as PerTask<SortedScores, K>;
  const offset = {} as PerTask<number, K>;
  const ones = new Float64Array(n).fill(1);
  for (const task of taskList) {
    forTask(task, () => {
      if (input.truth[task].length !== n) {
        throw new ScorerInputError(
          `${input.truth[task].length} ground-truth studies but ${first} has ${n}: the bootstrap resamples studies shared by all tasks`,
        );
      }
      // auc() validates labels, scores, lengths and both classes, with the official messages.
      pointAuc[task] = auc(input.truth[task], input.predictions[task]);
      sorted[task] = sortScores(input.truth[task], input.predictions[task]);
      // Replicates use the exact Mann-Whitney ratio, the point estimate sklearn's trapezoids; the two
      // differ by float rounding (a perfect ranking scores 0.9999999999999999 officially, exactly 1
      // here). Shifting every replicate by the difference puts the distribution on the official scale,
      // so an interval can never exclude its own point estimate by an ulp (e.g. [1, 1] around 0.99…9).
      offset[task] = pointAuc[task] - weightedAucSorted(sorted[task], ones);
    });
  }

  const { values, mean, kept } = resample(
    taskList.map((task) => sorted[task]),
    Float64Array.from(taskList, (task) => offset[task]),
    n,
    opts,
  );
  if (kept === 0) {
    throw new ScorerInputError(
      `all ${opts.replicates} bootstrap replicates lack a positive or a negative study for some task: too few studies`,
    );
  }

  let pointSum = 0;
  for (const task of taskList) pointSum += pointAuc[task]; // sequential, as scoreTasks' mean
  return {
    taskOrder: taskList,
    studies: n,
    seed: opts.seed,
    drawn: opts.replicates,
    degenerate: opts.replicates - kept,
    auc: pointAuc,
    meanAuc: pointSum / taskList.length,
    tasks: perTask(taskList, (_, t) => values[t]!.subarray(0, kept)),
    mean: mean.subarray(0, kept),
  };
}

/**
 * numpy.percentile(values, q) with the default "linear" method (q in 0..100), including numpy's way
 * of interpolating from the nearer end, so that intervals can be checked against numpy to the bit.
 */
export function percentile(values: Float64Array, q: number): number {
  if (values.length === 0) throw new ScorerInputError("percentile of no values");
  return percentileOfSorted(values.slice().sort(), q);
}

function percentileOfSorted(sorted: Float64Array, q: number): number {
  const virtual = (q / 100) * (sorted.length - 1);
  const below = Math.floor(virtual);
  const a = sorted[below]!;
  const b = sorted[Math.min(below + 1, sorted.length - 1)]!;
  const t = virtual - below;
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

function interval95(values: Float64Array): Interval {
  const sorted = values.slice().sort(); // typed arrays sort numerically
  return [percentileOfSorted(sorted, 2.5), percentileOfSorted(sorted, 97.5)];
}

/** Percentile 95% intervals of an already drawn distribution. */
export function intervalsOf<K extends string>(distribution: BootstrapDistribution<K>): BootstrapAucResult<K> {
  return {
    tasks: distribution.taskOrder.map((task) => ({
      task,
      auc: distribution.auc[task],
      auc95: interval95(distribution.tasks[task]),
    })),
    meanAuc: distribution.meanAuc,
    meanAuc95: interval95(distribution.mean),
    replicates: distribution.mean.length,
    degenerate: distribution.degenerate,
  };
}

/** Bootstrap 95% confidence intervals of each task's AUC and of the mean AUC (see the module comment). */
export function bootstrapAuc(input: BootstrapInput, opts: BootstrapOptions): BootstrapAucResult;
export function bootstrapAuc<K extends string>(
  input: BootstrapInput<K>,
  opts: BootstrapOptions,
  taskList: readonly K[],
): BootstrapAucResult<K>;
export function bootstrapAuc<K extends string>(
  input: BootstrapInput<K>,
  opts: BootstrapOptions,
  taskList: readonly K[] = chexpertTasks(),
): BootstrapAucResult<K> {
  return intervalsOf(bootstrapDistribution(input, opts, taskList));
}

/**
 * Compares two distributions drawn with the same seed and replicate count on the same ground truth,
 * so that the leaderboard can draw each entry's distribution once and compare every entry with the
 * leader. `a` is the higher-ranked entry; see PairedComparison for the definition of pNotWorse.
 */
export function compareDistributions<K extends string>(
  a: BootstrapDistribution<K>,
  b: BootstrapDistribution<K>,
): PairedComparison {
  if (
    a.taskOrder.join("\n") !== b.taskOrder.join("\n") ||
    a.studies !== b.studies ||
    a.seed !== b.seed ||
    a.drawn !== b.drawn ||
    a.mean.length !== b.mean.length
  ) {
    throw new ScorerInputError(
      "cannot pair bootstrap distributions drawn with different studies, seeds or replicate counts, or other tasks",
    );
  }
  const m = a.mean.length;
  const diff = new Float64Array(m);
  let notWorse = 0;
  for (let r = 0; r < m; r++) {
    diff[r] = a.mean[r]! - b.mean[r]!;
    if (b.mean[r]! >= a.mean[r]!) notWorse++;
  }
  return {
    pNotWorse: notWorse / m,
    replicates: m,
    meanDiff: a.meanAuc - b.meanAuc,
    diff95: interval95(diff),
  };
}

/**
 * Paired bootstrap comparison of submissions `a` (higher-ranked) and `b` on the same resamples of the
 * same truth: how likely is b not really worse than a? Over the CheXpert tasks; for other tasks, compare
 * two distributions drawn with the same task list (compareDistributions).
 */
export function pairedComparison(
  truth: PerTask<ArrayLike<number>>,
  a: PerTask<ArrayLike<number>>,
  b: PerTask<ArrayLike<number>>,
  opts: BootstrapOptions,
): PairedComparison {
  return compareDistributions(
    bootstrapDistribution({ truth, predictions: a }, opts),
    bootstrapDistribution({ truth, predictions: b }, opts),
  );
}
