import type { ScoreRecord, TieCandidate } from "@holdout/db";
import {
  bootstrapAuc,
  bootstrapDistribution,
  compareDistributions,
  curves,
  parsePredictionsCsv,
  scoreTasks,
  TASKS,
  type BootstrapDistribution,
  type BootstrapOptions,
  type PerTask,
} from "@holdout/scorer";
import type { HiddenTestset } from "./hidden-testset.ts";

/** Below this bootstrap probability of "not really worse", an entry is behind the leader for sure. */
export const TIE_ALPHA = 0.05;

/**
 * Everything stored for a scored submission: the official scores, 95% bootstrap intervals (fixed
 * seed, so the same predictions always get the same interval), the plot curves, and the predictions
 * themselves as canonical CSV (what was scored, not whatever else the model's file held).
 */
export function scoreRecord(
  testset: HiddenTestset,
  predictions: PerTask<Float64Array>,
  bootstrap: BootstrapOptions,
): ScoreRecord {
  const input = { truth: testset.truth, predictions, readers: testset.readers };
  const result = scoreTasks(input);
  const intervals = bootstrapAuc({ truth: testset.truth, predictions }, bootstrap);
  const plots = curves(input);
  return {
    meanAuc: result.meanAuc,
    meanRadsBelowCurve: result.meanRadsBelowCurve,
    score: result.score,
    meanAucLo: intervals.meanAuc95[0],
    meanAucHi: intervals.meanAuc95[1],
    tasks: result.tasks.map((t, i) => {
      const interval = intervals.tasks[i]?.auc95;
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
    predictionsCsv: predictionsCsv(testset.studies, predictions),
  };
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** `Study` + the five tasks, one row per study in test-set order; numbers as JavaScript prints them (exact). */
export function predictionsCsv(studies: readonly string[], predictions: PerTask<Float64Array>): string {
  const lines = [["Study", ...TASKS].map(csvField).join(",")];
  studies.forEach((study, i) => {
    lines.push([csvField(study), ...TASKS.map((task) => String(predictions[task][i]))].join(","));
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
 * test set gets no mark (null) and neither ends nor joins the block.
 */
export function decideTies(
  testset: HiddenTestset,
  listed: readonly TieCandidate[],
  bootstrap: BootstrapOptions,
): Map<string, boolean | null> {
  const marks = new Map<string, boolean | null>();
  const distribution = (entry: TieCandidate): BootstrapDistribution | null => {
    if (entry.predictionsCsv === null) return null;
    try {
      const predictions = parsePredictionsCsv(entry.predictionsCsv, testset.studies);
      return bootstrapDistribution({ truth: testset.truth, predictions }, bootstrap);
    } catch {
      return null; // stored before a test-set change: no mark rather than a wrong one
    }
  };
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
