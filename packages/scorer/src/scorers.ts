/**
 * The scorers a test set's manifest can name, behind one interface, so that the worker and the API
 * pick one by name and never branch on which it is:
 * - `chexpert`: the official CheXpert metric over the five TASKS, with the benchmark readers
 *   ("radiologists below the curve") as the ranking's tie-breaker.
 * - `mean-auc`: the same per-task AUC, mean AUC, bootstrap intervals and curves over any binary
 *   label columns the manifest names, and no readers: radsBelowCurve is 0 throughout, so the score
 *   (the ranking key) is the mean AUC itself.
 * Both run the same functions (score.ts, bootstrap.ts, curves.ts, the CSV parsers) with their task
 * list: there is one implementation of the metric, and the CheXpert numbers stay exactly official.
 */
import {
  bootstrapAuc,
  bootstrapDistribution,
  type BootstrapAucResult,
  type BootstrapDistribution,
  type BootstrapInput,
  type BootstrapOptions,
} from "./bootstrap.ts";
import { curves, type TaskCurves } from "./curves.ts";
import { ScorerInputError } from "./errors.ts";
import { parseLabelsCsv, type LabelsTable } from "./labels-csv.ts";
import { parsePredictionsCsv } from "./predictions-csv.ts";
import { scoreTasks, type ScoreInput, type ScoreResult } from "./score.ts";
import { TASKS, type PerTask, type Task } from "./tasks.ts";

export const SCORER_NAMES = ["chexpert", "mean-auc"] as const;
export type ScorerName = (typeof SCORER_NAMES)[number];

/** What a test set's manifest says about its scoring (testset.json's `scorer` and `tasks`). */
export interface ScorerSpec {
  readonly scorer: ScorerName;
  readonly tasks: readonly string[];
}

/** A metric bound to its task list: what the worker needs to read labels and predictions and score. */
export interface TaskScorer<K extends string = string> {
  readonly name: ScorerName;
  /** The label columns scored, in the order every result lists them. */
  readonly tasks: readonly K[];
  /**
   * Whether results compare benchmark readers. Without them radsBelowCurve is always 0 and a page
   * has nothing to show for it.
   */
  readonly readers: boolean;
  /** A ground-truth or reader file (LabelsError on bad input); reader files then go through alignLabels. */
  parseLabels(text: string, source: string): LabelsTable<K>;
  /** A model's predictions.csv, aligned to the ground truth's studies (PredictionsError on bad input). */
  parsePredictions(text: string, studies: readonly string[], source?: string): PerTask<Float64Array, K>;
  /** The leaderboard numbers (ScorerInputError on input that cannot be scored). */
  score(input: ScoreInput<K>): ScoreResult<K>;
  bootstrapDistribution(input: BootstrapInput<K>, opts: BootstrapOptions): BootstrapDistribution<K>;
  bootstrapAuc(input: BootstrapInput<K>, opts: BootstrapOptions): BootstrapAucResult<K>;
  curves(input: ScoreInput<K>): TaskCurves<K>[];
}

export function isScorerName(value: unknown): value is ScorerName {
  return typeof value === "string" && (SCORER_NAMES as readonly string[]).includes(value);
}

// Control characters would break a CSV header line, or hide in it.
const CONTROL = /\p{Cc}/u;

/**
 * What is wrong with a list of label columns for the mean-auc scorer, one line per problem naming the
 * entry (`tasks[2] "x" …`). A column must be findable by its exact name in a CSV header.
 */
export function taskColumnProblems(tasks: readonly string[]): string[] {
  if (tasks.length === 0) return ["`tasks` names no column"];
  const problems: string[] = [];
  const first = new Map<string, number>();
  tasks.forEach((name, i) => {
    const where = `tasks[${i}] ${JSON.stringify(name)}`;
    if (name === "") problems.push(`tasks[${i}] is empty`);
    else if (name.trim() !== name)
      problems.push(`${where} has spaces around it (headers must match exactly)`);
    else if (CONTROL.test(name)) problems.push(`${where} holds a control character`);
    else if (name === "Study") problems.push(`${where} is the name of the study column`);
    const earlier = first.get(name);
    if (earlier !== undefined) problems.push(`${where} repeats tasks[${earlier}]`);
    else first.set(name, i);
  });
  return problems;
}

/** What is wrong with a manifest's scorer and tasks, one line per problem; [] when it can be scored. */
export function scorerSpecProblems(spec: ScorerSpec): string[] {
  switch (spec.scorer) {
    case "chexpert": {
      // The official metric scores exactly the five tasks, in TASKS order whatever the manifest's order.
      const missing = TASKS.filter((task) => !spec.tasks.includes(task));
      const others = spec.tasks.filter((task) => !(TASKS as readonly string[]).includes(task));
      if (missing.length === 0 && others.length === 0 && spec.tasks.length === TASKS.length) return [];
      const details = [
        missing.length > 0 ? `missing ${missing.map((t) => JSON.stringify(t)).join(", ")}` : null,
        others.length > 0 ? `not CheXpert tasks: ${others.map((t) => JSON.stringify(t)).join(", ")}` : null,
        missing.length === 0 && others.length === 0 ? "some are repeated" : null,
      ].filter((d) => d !== null);
      return [
        `\`tasks\` must be the five CheXpert tasks (${TASKS.join(", ")}) for scorer chexpert; ` +
          `${details.join("; ")} (scorer mean-auc scores other columns)`,
      ];
    }
    case "mean-auc":
      return taskColumnProblems(spec.tasks);
  }
}

/** The metric functions bound to one task list. */
function boundScorer<K extends string>(
  name: ScorerName,
  tasks: readonly K[],
  readers: boolean,
): TaskScorer<K> {
  return {
    name,
    tasks,
    readers,
    parseLabels: (text, source) => parseLabelsCsv(text, source, tasks),
    parsePredictions: (text, studies, source = "predictions.csv") =>
      parsePredictionsCsv(text, studies, source, tasks),
    score: (input) => {
      if (!readers && input.readers.length > 0) {
        throw new ScorerInputError(`scorer ${name} compares no readers, got ${input.readers.length}`);
      }
      return scoreTasks(input, tasks);
    },
    bootstrapDistribution: (input, opts) => bootstrapDistribution(input, opts, tasks),
    bootstrapAuc: (input, opts) => bootstrapAuc(input, opts, tasks),
    curves: (input) => curves(input, tasks),
  };
}

/** The official CheXpert metric: the numbers of scoreTasks, bootstrapAuc and curves without a task list. */
export const chexpertScorer: TaskScorer<Task> = boundScorer("chexpert", TASKS, true);

/** Mean AUC over the given binary label columns, without readers. Throws ScorerInputError on bad names. */
export function meanAucScorer(tasks: readonly string[]): TaskScorer {
  const problems = taskColumnProblems(tasks);
  if (problems.length > 0) throw new ScorerInputError(`mean-auc: ${problems.join("; ")}`);
  return boundScorer("mean-auc", [...tasks], false);
}

/** The scorer a manifest names, bound to its tasks. Throws ScorerInputError saying what does not fit. */
export function scorerFor(spec: ScorerSpec): TaskScorer {
  const problems = scorerSpecProblems(spec);
  if (problems.length > 0) throw new ScorerInputError(`${spec.scorer}: ${problems.join("; ")}`);
  switch (spec.scorer) {
    case "chexpert":
      return chexpertScorer;
    case "mean-auc":
      return meanAucScorer(spec.tasks);
  }
}

/**
 * The metric's version, recorded with every score (its provenance). Raise it with any change that
 * may give other figures for the same predictions and labels (AUC, the readers' rule, the bootstrap,
 * the curves): an audit then tells a score of the old code from a corruption.
 */
export const SCORER_VERSION = "1";
