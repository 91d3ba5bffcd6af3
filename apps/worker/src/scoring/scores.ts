import type { CompetitionPolicy, LadderStep, PartScoreRecord, ScoreRecord, TieCandidate } from "@holdout/db";
import {
  compareDistributions,
  TASKS,
  type BootstrapDistribution,
  type BootstrapOptions,
  type PerTask,
} from "@holdout/scorer";
import type { HiddenTestset } from "./hidden-testset.ts";
import { partsOf, pickTasks, subsetTestset, type SplitSpec } from "./split.ts";

/** Below this bootstrap probability of "not really worse", an entry is behind the leader for sure. */
export const TIE_ALPHA = 0.05;

/** The ladder's level: a new score is released when the chance it is not better is below this. */
export const LADDER_ALPHA = 0.05;

/** A model's predictions per task of the test set's scorer. */
export type Predictions = PerTask<Float64Array, string>;

/** The official scores with their 95% bootstrap intervals, on the given studies. */
function scoresOn(testset: HiddenTestset, predictions: Predictions, bootstrap: BootstrapOptions) {
  const { scorer } = testset;
  const result = scorer.score({ truth: testset.truth, predictions, readers: testset.readers });
  const intervals = scorer.bootstrapAuc({ truth: testset.truth, predictions }, bootstrap);
  return {
    meanAuc: result.meanAuc,
    meanRadsBelowCurve: result.meanRadsBelowCurve,
    score: result.score,
    meanAucLo: intervals.meanAuc95[0],
    meanAucHi: intervals.meanAuc95[1],
    result,
    intervals,
  };
}

/**
 * Everything stored for a scored submission: the official scores, 95% bootstrap intervals (fixed
 * seed, so the same predictions always get the same interval), the plot curves, and the predictions
 * themselves as canonical CSV (what was scored, not whatever else the model's file held). With a
 * public/private split, the scores and intervals of each part too (the leaderboard ranks on them);
 * the whole set's stay for organizers and the curves published at closing.
 */
export function scoreRecord(
  testset: HiddenTestset,
  predictions: Predictions,
  bootstrap: BootstrapOptions,
  split: SplitSpec | null = null,
): ScoreRecord {
  const whole = scoresOn(testset, predictions, bootstrap);
  const plots = testset.scorer.curves({ truth: testset.truth, predictions, readers: testset.readers });
  return {
    meanAuc: whole.meanAuc,
    meanRadsBelowCurve: whole.meanRadsBelowCurve,
    score: whole.score,
    meanAucLo: whole.meanAucLo,
    meanAucHi: whole.meanAucHi,
    tasks: whole.result.tasks.map((t, i) => {
      const interval = whole.intervals.tasks[i]?.auc95;
      const plot = plots[i];
      return {
        task: t.task,
        auc: t.auc,
        radsBelowCurve: t.radsBelowCurve,
        roc: t.roc,
        ...(interval ? { aucLo: interval[0], aucHi: interval[1] } : {}),
        ...(plot
          ? { curves: { pr: plot.pr, readerPoints: plot.readerPoints, majority: plot.majority } }
          : {}),
      };
    }),
    predictionsCsv: predictionsCsv(testset.studies, predictions, testset.scorer.tasks),
    ...(split ? { parts: partRecords(testset, predictions, bootstrap, split) } : {}),
  };
}

function partRecords(
  testset: HiddenTestset,
  predictions: Predictions,
  bootstrap: BootstrapOptions,
  split: SplitSpec,
): PartScoreRecord[] {
  const parts = partsOf(testset, split);
  return (["public", "private"] as const).map((part) => {
    const indices = parts[part];
    const subset = subsetTestset(testset, indices);
    const s = scoresOn(subset, pickTasks(predictions, indices, testset.scorer.tasks), bootstrap);
    return {
      part,
      meanAuc: s.meanAuc,
      meanRadsBelowCurve: s.meanRadsBelowCurve,
      score: s.score,
      meanAucLo: s.meanAucLo,
      meanAucHi: s.meanAucHi,
      tasks: s.result.tasks.map((t, i) => ({
        task: t.task,
        auc: t.auc,
        aucLo: s.intervals.tasks[i]?.auc95[0] ?? null,
        aucHi: s.intervals.tasks[i]?.auc95[1] ?? null,
        radsBelowCurve: t.radsBelowCurve,
      })),
    };
  });
}

/** The studies a board ranks on: all of them, or one part of a split. */
export type BoardStudies = readonly number[] | null;

/** A bootstrap distribution of the mean AUC of stored predictions on a board's studies, or null if unusable. */
function distributionOf(
  testset: HiddenTestset,
  csv: string | null,
  bootstrap: BootstrapOptions,
  studies: BoardStudies,
): BootstrapDistribution<string> | null {
  if (csv === null) return null;
  const { scorer } = testset;
  try {
    const predictions = scorer.parsePredictions(csv, testset.studies);
    return studies === null
      ? scorer.bootstrapDistribution({ truth: testset.truth, predictions }, bootstrap)
      : scorer.bootstrapDistribution(
          {
            truth: pickTasks(testset.truth, studies, scorer.tasks),
            predictions: pickTasks(predictions, studies, scorer.tasks),
          },
          bootstrap,
        );
  } catch {
    return null; // stored before a test-set change: no comparison rather than a wrong one
  }
}

/** The competition's split as the worker applies it, or null without one. */
export function splitOf(policy: Pick<CompetitionPolicy, "splitFraction" | "splitSeed">): SplitSpec | null {
  return policy.splitFraction === null || policy.splitSeed === null
    ? null
    : { fraction: policy.splitFraction, seed: policy.splitSeed };
}

/** The ladder's step for recordScore: compared on the board the team sees (the public part with a split). */
export function ladderStep(
  testset: HiddenTestset,
  record: ScoreRecord,
  bootstrap: BootstrapOptions,
  split: SplitSpec | null,
): LadderStep {
  const board = split ? "public" : "full";
  return {
    board,
    decide: (best) =>
      ladderImproves(
        testset,
        record.predictionsCsv ?? "",
        best?.predictionsCsv ?? null,
        bootstrap,
        boardStudies(testset, board, split),
      ),
  };
}

/**
 * The ladder's decision (Blum & Hardt, 2015, with a significance test as the step): is a new
 * submission's mean AUC better than the team's best released one, on the studies the board shows,
 * by a paired bootstrap test at LADDER_ALPHA? The team's first score is always released; a best one
 * whose predictions cannot be compared (missing, from another test set) does not hold a new one back.
 */
export function ladderImproves(
  testset: HiddenTestset,
  candidateCsv: string,
  bestCsv: string | null,
  bootstrap: BootstrapOptions,
  studies: BoardStudies,
): boolean {
  const best = distributionOf(testset, bestCsv, bootstrap, studies);
  if (!best) return true;
  const candidate = distributionOf(testset, candidateCsv, bootstrap, studies);
  if (!candidate) return false;
  const c = compareDistributions(candidate, best);
  return c.meanDiff > 0 && c.pNotWorse < LADDER_ALPHA;
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * `Study` + the scorer's tasks (CheXpert's five by default), one row per study in test-set order;
 * numbers as JavaScript prints them (exact).
 */
export function predictionsCsv<K extends string>(
  studies: readonly string[],
  predictions: PerTask<Float64Array, K>,
  tasks: readonly K[] = TASKS as readonly string[] as readonly K[],
): string {
  const lines = [["Study", ...tasks].map(csvField).join(",")];
  studies.forEach((study, i) => {
    lines.push([csvField(study), ...tasks.map((task) => String(predictions[task][i]))].join(","));
  });
  return `${lines.join("\n")}\n`;
}

/**
 * The "statistically tied with the leader" marks for the listed entries, best first. The leader is
 * tied with itself; each next entry is compared with the leader by a paired bootstrap of the mean
 * AUC on the same resamples, and is tied if it is not significantly worse (pNotWorse >= 5%). The marks
 * are contiguous from the top: the first entry significantly worse ends the tied block, and all after
 * it are not tied (the paired test is not monotone in the rank, so a later entry could otherwise be
 * "tied" below one that is not). An entry whose stored predictions are missing or no longer fit the
 * test set gets no mark (null) and neither ends nor joins the block. `studies`: the board's part of
 * a split test set (each part's board has its own leader and marks).
 */
export function decideTies(
  testset: HiddenTestset,
  listed: readonly TieCandidate[],
  bootstrap: BootstrapOptions,
  studies: BoardStudies = null,
): Map<string, boolean | null> {
  const marks = new Map<string, boolean | null>();
  const distribution = (entry: TieCandidate) =>
    distributionOf(testset, entry.predictionsCsv, bootstrap, studies);
  const [leader, ...rest] = listed;
  if (!leader) return marks;
  const top = distribution(leader);
  if (!top) {
    for (const entry of listed) marks.set(entry.id, null);
    return marks;
  }
  marks.set(leader.id, true);
  let open = true;
  for (const entry of rest) {
    if (!open) {
      marks.set(entry.id, false);
      continue;
    }
    const d = distribution(entry);
    if (!d) {
      marks.set(entry.id, null);
      continue;
    }
    const tied = compareDistributions(top, d).pNotWorse >= TIE_ALPHA;
    marks.set(entry.id, tied);
    if (!tied) open = false;
  }
  return marks;
}

/** The studies of a board: a part's indices with a split, else all (null). */
export function boardStudies(
  testset: HiddenTestset,
  board: "full" | "public" | "private",
  split: SplitSpec | null,
): BoardStudies {
  if (board === "full" || split === null) return null;
  return partsOf(testset, split)[board];
}
