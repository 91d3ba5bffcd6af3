/**
 * What the result pages plot, per task: the model's ROC and precision-recall curves, each reader's
 * operating point and the readers' majority vote as one more operating point. Separate from
 * scoreTasks so that the official score stays exactly what it was (and as fast).
 */
import { forTask, ScorerInputError } from "./errors.ts";
import { confusionCounts, type ConfusionCounts } from "./readers.ts";
import { rocCurve, thresholdCounts } from "./roc.ts";
import type { ReaderReads, ScoreInput } from "./score.ts";
import { chexpertTasks, type Task } from "./tasks.ts";

export interface OperatingPoint {
  /** 1 - specificity, computed as the official readers rule computes its x. */
  fpr: number;
  sensitivity: number;
  /** tp / (tp + fp); null when the reads are never positive (sklearn would report 0 with a warning). */
  precision: number | null;
}

export interface ReaderOperatingPoint extends OperatingPoint {
  id: string;
}

export interface TaskCurves<K extends string = Task> {
  task: K;
  /** ROC vertices as [fpr, tpr], the same as TaskScore.roc. */
  roc: [number, number][];
  /** Precision-recall points as [recall, precision], in precision_recall_curve's order (see below). */
  pr: [number, number][];
  /** In input order. */
  readerPoints: ReaderOperatingPoint[];
  /** The readers' majority vote scored as a reader; null without readers. */
  majority: OperatingPoint | null;
}

export interface PrecisionRecallCurve {
  readonly precision: Float64Array;
  readonly recall: Float64Array;
}

/**
 * scikit-learn's `precision_recall_curve(labels, scores)` with its defaults (drop_intermediate=False,
 * sklearn >= 1.1): one point per distinct score from the lowest threshold (recall 1, precision =
 * prevalence) to the highest, then the final (recall 0, precision 1) point that has no threshold.
 * Same float64 operations (tps / (tps + fps), tps / tps[-1]), so the same bits. Unlike sklearn, which
 * warns and sets recall to 1 when there is no positive, this throws, as `auc` does.
 */
export function precisionRecallCurve(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
): PrecisionRecallCurve {
  const { tps, fps } = thresholdCounts(labels, scores);
  const m = tps.length;
  const totalTps = tps[m - 1]!;
  const precision = new Float64Array(m + 1);
  const recall = new Float64Array(m + 1);
  for (let j = 0; j < m; j++) {
    // Reversed: thresholdCounts lists the highest score first, sklearn returns the lowest first.
    precision[m - 1 - j] = tps[j]! / (tps[j]! + fps[j]!);
    recall[m - 1 - j] = tps[j]! / totalTps;
  }
  precision[m] = 1;
  recall[m] = 0;
  return { precision, recall };
}

function operatingPoint({ tp, fn, tn, fp }: ConfusionCounts): OperatingPoint {
  return {
    fpr: 1 - tn / (tn + fp),
    sensitivity: tp / (tp + fn),
    precision: tp + fp === 0 ? null : tp / (tp + fp),
  };
}

/**
 * The majority vote of binarized reads: 1 where strictly more than half of the readers read 1. With
 * an even number of readers a split vote is 0, the conservative call (no finding without a majority).
 */
export function majorityVote(reads: readonly ArrayLike<number>[]): Uint8Array {
  const first = reads[0];
  if (first === undefined) throw new ScorerInputError("majority vote of no readers");
  const votes = new Uint8Array(first.length);
  for (const read of reads) {
    if (read.length !== first.length) throw new ScorerInputError("reads differ in length");
    for (let i = 0; i < read.length; i++) {
      const r = read[i];
      if (r !== 0 && r !== 1)
        throw new ScorerInputError(`read at index ${i} is ${String(r)}, expected 0 or 1`);
      votes[i]! += r;
    }
  }
  return votes.map((v) => (2 * v > reads.length ? 1 : 0));
}

function taskCurves<K extends string>(task: K, input: ScoreInput<K>): TaskCurves<K> {
  const truth = input.truth[task];
  const scores = input.predictions[task];
  const roc = rocCurve(truth, scores);
  const { precision, recall } = precisionRecallCurve(truth, scores);
  const readerPoints = input.readers.map((reader: ReaderReads<K>) =>
    forReader(reader.id, () => ({
      id: reader.id,
      ...operatingPoint(confusionCounts(truth, reader.reads[task])),
    })),
  );
  const majority =
    input.readers.length === 0
      ? null
      : operatingPoint(confusionCounts(truth, majorityVote(input.readers.map((r) => r.reads[task]))));
  return {
    task,
    roc: Array.from(roc.fpr, (fpr, i): [number, number] => [fpr, roc.tpr[i]!]),
    pr: Array.from(recall, (r, i): [number, number] => [r, precision[i]!]),
    readerPoints,
    majority,
  };
}

function forReader<T>(id: string, compute: () => T): T {
  try {
    return compute();
  } catch (error) {
    if (error instanceof ScorerInputError) {
      throw new ScorerInputError(`reader ${id}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/**
 * Plot data for every task, in task order (TASKS, or the list given). Throws ScorerInputError naming
 * the task on bad input.
 */
export function curves(input: ScoreInput): TaskCurves[];
export function curves<K extends string>(input: ScoreInput<K>, taskList: readonly K[]): TaskCurves<K>[];
export function curves<K extends string>(
  input: ScoreInput<K>,
  taskList: readonly K[] = chexpertTasks(),
): TaskCurves<K>[] {
  return taskList.map((task) => forTask(task, () => taskCurves(task, input)));
}
