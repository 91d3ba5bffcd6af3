/** The official CheXpert metric over the five tasks: AUCs, radiologists below the curve, score. */
import { forTask, ScorerInputError } from "./errors.ts";
import { combinedScore } from "./ranking.ts";
import { isBelowCurve, readerPoint } from "./readers.ts";
import { aucOfCurve, rocCurve } from "./roc.ts";
import { TASKS, type PerTask, type Task } from "./tasks.ts";

export interface ReaderReads {
  readonly id: string;
  readonly reads: PerTask<ArrayLike<number>>;
}

/** Arrays are aligned by study index: element i of every array is the same study. */
export interface ScoreInput {
  readonly truth: PerTask<ArrayLike<number>>;
  readonly predictions: PerTask<ArrayLike<number>>;
  readonly readers: readonly ReaderReads[];
}

export interface TaskScore {
  task: Task;
  auc: number;
  /** How many readers lie below this task's ROC curve (0..number of readers). */
  radsBelowCurve: number;
  /** ROC vertices as [fpr, tpr] pairs, starting at [0, 0]. */
  roc: [number, number][];
}

export interface ReaderScore {
  id: string;
  task: Task;
  specificity: number;
  sensitivity: number;
}

export interface ScoreResult {
  meanAuc: number;
  meanRadsBelowCurve: number;
  /** meanAuc + 0.001 * meanRadsBelowCurve: the leaderboard's ranking key. */
  score: number;
  /** In TASKS order. */
  tasks: TaskScore[];
  /** Task by task (TASKS order), then readers in input order. */
  readers: ReaderScore[];
}

/**
 * Scores one set of predictions: the leaderboard numbers. Confidence intervals (bootstrap.ts) and plot
 * curves (curves.ts) are separate calls, so that this one stays exactly the official computation.
 */
export function scoreTasks(input: ScoreInput): ScoreResult {
  const tasks: TaskScore[] = [];
  const readers: ReaderScore[] = [];
  for (const task of TASKS) {
    forTask(task, () => {
      const truth = input.truth[task];
      const lengths = [
        ["predictions", input.predictions[task].length],
        ...input.readers.map((reader) => [`reader ${reader.id}`, reader.reads[task].length] as const),
      ] as const;
      for (const [what, length] of lengths) {
        if (length !== truth.length) {
          throw new ScorerInputError(`${what}: ${length} values for ${truth.length} ground-truth studies`);
        }
      }
      const roc = rocCurve(truth, input.predictions[task]);
      let radsBelowCurve = 0;
      for (const reader of input.readers) {
        const point = readerPoint(truth, reader.reads[task]);
        if (isBelowCurve(roc, point)) radsBelowCurve++;
        readers.push({ id: reader.id, task, ...point });
      }
      tasks.push({
        task,
        auc: aucOfCurve(roc),
        radsBelowCurve,
        roc: Array.from(roc.fpr, (fpr, i): [number, number] => [fpr, roc.tpr[i]!]),
      });
    });
  }
  // Sequential sums divided by the count: the same operations as numpy's mean over 5 values.
  let aucSum = 0;
  let radsSum = 0;
  for (const t of tasks) {
    aucSum += t.auc;
    radsSum += t.radsBelowCurve;
  }
  const meanAuc = aucSum / tasks.length;
  const meanRadsBelowCurve = radsSum / tasks.length;
  return { meanAuc, meanRadsBelowCurve, score: combinedScore(meanAuc, meanRadsBelowCurve), tasks, readers };
}
