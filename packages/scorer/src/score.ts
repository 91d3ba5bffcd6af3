/**
 * The official CheXpert metric over the five tasks: AUCs, radiologists below the curve, score. The same
 * computation serves any list of binary label columns (the mean-auc scorer, without readers).
 */
import { forTask, ScorerInputError } from "./errors.ts";
import { combinedScore } from "./ranking.ts";
import { isBelowCurve, readerPoint } from "./readers.ts";
import { aucOfCurve, rocCurve } from "./roc.ts";
import { chexpertTasks, type PerTask, type Task } from "./tasks.ts";

export interface ReaderReads<K extends string = Task> {
  readonly id: string;
  readonly reads: PerTask<ArrayLike<number>, K>;
}

/** Arrays are aligned by study index: element i of every array is the same study. */
export interface ScoreInput<K extends string = Task> {
  readonly truth: PerTask<ArrayLike<number>, K>;
  readonly predictions: PerTask<ArrayLike<number>, K>;
  readonly readers: readonly ReaderReads<K>[];
}

export interface TaskScore<K extends string = Task> {
  task: K;
  auc: number;
  /** How many readers lie below this task's ROC curve (0..number of readers). */
  radsBelowCurve: number;
  /** ROC vertices as [fpr, tpr] pairs, starting at [0, 0]. */
  roc: [number, number][];
}

export interface ReaderScore<K extends string = Task> {
  id: string;
  task: K;
  specificity: number;
  sensitivity: number;
}

export interface ScoreResult<K extends string = Task> {
  meanAuc: number;
  /** 0 without readers (none of them is below any curve); then the score is the mean AUC itself. */
  meanRadsBelowCurve: number;
  /** meanAuc + 0.001 * meanRadsBelowCurve: the leaderboard's ranking key. */
  score: number;
  /** In task order (TASKS, or the list given). */
  tasks: TaskScore<K>[];
  /** Task by task (in task order), then readers in input order. */
  readers: ReaderScore<K>[];
}

/**
 * Scores one set of predictions: the leaderboard numbers, over the five CheXpert tasks or the given
 * task list. Confidence intervals (bootstrap.ts) and plot curves (curves.ts) are separate calls, so
 * that this one stays exactly the official computation.
 */
export function scoreTasks(input: ScoreInput): ScoreResult;
export function scoreTasks<K extends string>(input: ScoreInput<K>, taskList: readonly K[]): ScoreResult<K>;
export function scoreTasks<K extends string>(
  input: ScoreInput<K>,
  taskList: readonly K[] = chexpertTasks(),
): ScoreResult<K> {
  if (taskList.length === 0) throw new ScorerInputError("no tasks to score");
  const tasks: TaskScore<K>[] = [];
  const readers: ReaderScore<K>[] = [];
  for (const task of taskList) {
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
  // Sequential sums divided by the count: the same operations as numpy's mean over the task values.
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
