import { TASKS, type Task } from "@holdout/scorer";
import { completeHierarchy, obsIndex, targetCount, type StudyTruth } from "./labels.ts";
import type { Random } from "./rng.ts";

/** A benchmark radiologist's operating point on one task, against the ground truth. */
export interface OperatingPoint {
  sensitivity: number;
  specificity: number;
}

export interface BenchmarkReader {
  id: string;
  label: string;
  points: Record<Task, OperatingPoint>;
}

const point = (sensitivity: number, specificity: number): OperatingPoint => ({ sensitivity, specificity });

/**
 * The three CheXpert test-set radiologists' (sensitivity, specificity) per task, scored against the
 * released ground truth (bc4 = Radiologist 1, bc6 = 2, bc8 = 3), rounded to 2 decimals: close enough
 * to place a synthetic reader where the real one sits on the ROC plane, without shipping the labels.
 * The testset tests recompute them from the label files when those are present.
 */
export const BENCHMARK_READERS: readonly BenchmarkReader[] = [
  {
    id: "rad1",
    label: "Radiologist 1",
    points: {
      Atelectasis: point(0.8, 0.79),
      Cardiomegaly: point(0.48, 0.95),
      Consolidation: point(0.66, 0.89),
      Edema: point(0.63, 0.91),
      "Pleural Effusion": point(0.82, 0.95),
    },
  },
  {
    id: "rad2",
    label: "Radiologist 2",
    points: {
      Atelectasis: point(0.71, 0.82),
      Cardiomegaly: point(0.85, 0.77),
      Consolidation: point(0.48, 0.91),
      Edema: point(0.79, 0.81),
      "Pleural Effusion": point(0.83, 0.83),
    },
  },
  {
    id: "rad3",
    label: "Radiologist 3",
    points: {
      Atelectasis: point(0.92, 0.69),
      Cardiomegaly: point(0.7, 0.89),
      Consolidation: point(0.45, 0.97),
      Edema: point(0.58, 0.93),
      "Pleural Effusion": point(0.89, 0.86),
    },
  },
];

/**
 * `k` of the `candidates`, drawn without replacement with probability growing with `weight`
 * (Efraimidis–Spirakis keys u^(1/w)); deterministic for a given stream.
 */
function weightedPick(
  rng: Random,
  candidates: number[],
  weight: (s: number) => number,
  k: number,
): Set<number> {
  const keyed = candidates.map((s) => [Math.log(1 - rng.next()) / weight(s), s] as const);
  keyed.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  return new Set(keyed.slice(0, Math.max(0, k)).map(([, s]) => s));
}

/**
 * The majority vote with each task's count settled to the CheXpert target: the closest calls (the
 * fewest dissenting votes, then the latent truth and its severity) are flipped, as an adjudicator
 * would decide split votes. Parents and "No Finding" are then made consistent again.
 */
export function settleGroundTruth(votes: number[][][], truth: StudyTruth[]): number[][] {
  const n = truth.length;
  const readers = votes.length;
  const count = (s: number, k: number): number => votes.reduce((sum, r) => sum + (r[s]?.[k] ?? 0), 0);
  const gt = Array.from({ length: n }, (_, s) =>
    (votes[0]?.[s] ?? []).map((_, k) => (count(s, k) * 2 > readers ? 1 : 0)),
  );
  for (const task of TASKS) {
    const k = obsIndex(task);
    const latent = (s: number): number => {
      const f = truth[s]?.[k];
      return f?.present === true ? 1 + f.severity : 0;
    };
    const positives = gt.flatMap((row, s) => (row[k] === 1 ? [s] : []));
    const negatives = gt.flatMap((row, s) => (row[k] === 1 ? [] : [s]));
    const excess = positives.length - targetCount(task, n);
    // Closest calls first: with too many positives, the fewest votes and the weakest latent finding;
    // with too few, the most votes and the strongest. The index breaks ties.
    const flip = excess > 0 ? positives : negatives;
    const sign = excess > 0 ? -1 : 1;
    flip.sort((a, b) => sign * (count(b, k) - count(a, k)) || sign * (latent(b) - latent(a)) || a - b);
    for (const s of flip.slice(0, Math.abs(excess))) {
      const row = gt[s];
      if (row) row[k] = excess > 0 ? 0 : 1;
    }
  }
  return gt.map(completeHierarchy);
}

/**
 * A benchmark reader's reads: `base` (a simulated reader's calls on every observation) with each
 * task's column replaced by calls that hit the reader's sensitivity and specificity against the ground
 * truth exactly (up to rounding to whole studies). Misses fall more often on subtle or latent-absent
 * findings, false alarms on studies with a latent finding the majority missed: the reader errs where
 * the image is ambiguous, as a radiologist does, so the reader sits on the same ROC plane as models.
 */
export function benchmarkReads(
  rng: Random,
  truth: StudyTruth[],
  groundTruth: number[][],
  base: number[][],
  reader: BenchmarkReader,
): number[][] {
  const reads = base.map((row) => [...row]);
  for (const task of TASKS) {
    const k = obsIndex(task);
    const { sensitivity, specificity } = reader.points[task];
    const positives = groundTruth.flatMap((row, s) => (row[k] === 1 ? [s] : []));
    const negatives = groundTruth.flatMap((row, s) => (row[k] === 1 ? [] : [s]));
    const finding = (s: number) => truth[s]?.[k];
    const hits = weightedPick(
      rng,
      positives,
      (s) => (finding(s)?.present === true ? 1 + 3 * (finding(s)?.severity ?? 0) : 0.5),
      Math.round(sensitivity * positives.length),
    );
    const falseAlarms = weightedPick(
      rng,
      negatives,
      (s) => (finding(s)?.present === true ? 6 : 1),
      Math.round((1 - specificity) * negatives.length),
    );
    reads.forEach((row, s) => {
      row[k] = hits.has(s) || falseAlarms.has(s) ? 1 : 0;
    });
  }
  return reads.map(completeHierarchy);
}
