import { TASKS } from "@holdout/scorer";
import type { Random } from "./rng.ts";

/** The 14 CheXpert observations, in the column order of the official groundtruth.csv. */
export const OBSERVATIONS = [
  "No Finding",
  "Enlarged Cardiomediastinum",
  "Cardiomegaly",
  "Lung Opacity",
  "Lung Lesion",
  "Edema",
  "Consolidation",
  "Pneumonia",
  "Atelectasis",
  "Pneumothorax",
  "Pleural Effusion",
  "Pleural Other",
  "Fracture",
  "Support Devices",
] as const;
export type Observation = (typeof OBSERVATIONS)[number];

const OBS_INDEX = new Map<Observation, number>(OBSERVATIONS.map((o, i) => [o, i]));
export function obsIndex(o: Observation): number {
  const i = OBS_INDEX.get(o);
  if (i === undefined) throw new Error(`unknown observation ${o}`);
  return i;
}

// Ground-truth positives per 500 studies on the real CheXpert test set. For the 5 tasks these counts are
// met exactly (see targetCount); the other observations only approximately.
const TARGET_PER_500: Record<Observation, number> = {
  "No Finding": 62,
  "Enlarged Cardiomediastinum": 253,
  Cardiomegaly: 151,
  "Lung Opacity": 264,
  "Lung Lesion": 8,
  Edema: 78,
  Consolidation: 29,
  Pneumonia: 11,
  Atelectasis: 153,
  Pneumothorax: 9,
  "Pleural Effusion": 104,
  "Pleural Other": 4,
  Fracture: 5,
  "Support Devices": 261,
};

// How strongly each finding follows the study's overall "sickness" (correlates findings as in real ICU films).
const SICKNESS_LOADING: Partial<Record<Observation, number>> = {
  Cardiomegaly: 0.45,
  Edema: 0.65,
  "Pleural Effusion": 0.6,
  Atelectasis: 0.5,
  Consolidation: 0.4,
  Pneumonia: 0.3,
  "Support Devices": 0.6,
};

// Children whose presence implies the parent (CheXpert's label hierarchy); the parent may also occur alone.
const PARENTS: Partial<Record<Observation, Observation[]>> = {
  "Enlarged Cardiomediastinum": ["Cardiomegaly"],
  "Lung Opacity": ["Lung Lesion", "Edema", "Consolidation", "Pneumonia", "Atelectasis"],
};
// "No Finding" means none of these (support devices do not count), for the latent truth and for each reader.
const PATHOLOGIES = OBSERVATIONS.filter((o) => o !== "No Finding" && o !== "Support Devices");

/** The latent truth of one study: presence and, when present, a severity in [0, 1] (subtle → obvious). */
export interface Finding {
  present: boolean;
  severity: number;
}
export type StudyTruth = Finding[]; // indexed like OBSERVATIONS

/** A simulated radiologist: per observation, sensitivity at median severity and false-positive rate. */
export interface ReaderProfile {
  sens: number[];
  fpr: number[];
}

export const GROUND_TRUTH_READERS = 5;
// The simulated readers' mean sensitivity (drawReader: 0.66..0.9) and mean false-positive rate
// (0.65 × the cap), used to invert the majority vote so ground-truth prevalences land near the targets.
const MEAN_SENS = 0.78;
const MEAN_FPR_SHARE = 0.65;

function falsePositiveCap(o: Observation): number {
  // Rare findings are rarely over-called; common ones (atelectasis, cardiomegaly) often are.
  return Math.min(0.15, 0.5 * (TARGET_PER_500[o] / 500));
}

export function drawReader(rng: Random): ReaderProfile {
  const sens: number[] = [];
  const fpr: number[] = [];
  for (const o of OBSERVATIONS) {
    sens.push(rng.range(0.66, 0.9));
    fpr.push(rng.range(0.3, 1) * falsePositiveCap(o));
  }
  return { sens, fpr };
}

function binomialAtLeast(n: number, k: number, p: number): number {
  let total = 0;
  for (let i = k; i <= n; i++) {
    let c = 1;
    for (let j = 0; j < i; j++) c = (c * (n - j)) / (j + 1);
    total += c * p ** i * (1 - p) ** (n - i);
  }
  return total;
}

/** Latent prevalence whose majority-of-5 vote is expected to hit the target ground-truth prevalence. */
function latentPrevalence(o: Observation): number {
  const target = TARGET_PER_500[o] / 500;
  const majority = Math.floor(GROUND_TRUTH_READERS / 2) + 1;
  const hit = binomialAtLeast(GROUND_TRUTH_READERS, majority, MEAN_SENS);
  const falseHit = binomialAtLeast(GROUND_TRUTH_READERS, majority, MEAN_FPR_SHARE * falsePositiveCap(o));
  return Math.min(1, Math.max(0, (target - falseHit) / (hit - falseHit)));
}

/**
 * Ground-truth positives a task must have among `n` studies: the CheXpert count, scaled from 500, but
 * at least one positive and one negative (an AUC needs both) whenever `n` allows it.
 */
export function targetCount(o: Observation, n: number): number {
  const scaled = Math.round((TARGET_PER_500[o] * n) / 500);
  return n < 2 ? scaled : Math.min(n - 1, Math.max(1, scaled));
}

function isTask(o: Observation): boolean {
  return (TASKS as readonly string[]).includes(o);
}

/** Latent positives: for the tasks, exactly the target (readers then mostly agree with it). */
function latentCount(o: Observation, n: number): number {
  return isTask(o) ? targetCount(o, n) : Math.round(latentPrevalence(o) * n);
}

/** Indices of the `k` largest scores (ties broken by index, so the result is deterministic). */
function topK(scores: number[], k: number, eligible: (i: number) => boolean): Set<number> {
  const order = scores
    .map((s, i) => [s, i] as const)
    .filter(([, i]) => eligible(i))
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  return new Set(order.slice(0, Math.max(0, k)).map(([, i]) => i));
}

/**
 * Samples the latent findings of `n` studies. Counts are fixed (top-k of a score), not Bernoulli, so
 * prevalences stay close to the targets at any seed; a shared sickness factor correlates findings.
 */
export function sampleTruth(rng: Random, n: number): StudyTruth[] {
  const sickness = Array.from({ length: n }, () => rng.normal());
  const truth: StudyTruth[] = Array.from({ length: n }, () =>
    OBSERVATIONS.map(() => ({ present: false, severity: 0 })),
  );
  const mark = (o: Observation, studies: Iterable<number>): void => {
    for (const s of studies) {
      const f = truth[s]?.[obsIndex(o)];
      if (f && !f.present) {
        f.present = true;
        f.severity = rng.next();
      }
    }
  };
  // Leaves first, then the parents (which include their children), then "No Finding".
  const derived = new Set<Observation>(["No Finding", ...(Object.keys(PARENTS) as Observation[])]);
  for (const o of OBSERVATIONS) {
    if (derived.has(o)) continue;
    const load = SICKNESS_LOADING[o] ?? 0;
    const scores = sickness.map((z) => load * z + Math.sqrt(1 - load * load) * rng.normal());
    mark(
      o,
      topK(scores, latentCount(o, n), () => true),
    );
  }
  for (const [parent, children] of Object.entries(PARENTS) as [Observation, Observation[]][]) {
    const present = (s: number): boolean => children.some((c) => truth[s]?.[obsIndex(c)]?.present === true);
    const implied = [...Array(n).keys()].filter(present);
    mark(parent, implied);
    const extra = Math.round(latentPrevalence(parent) * n) - implied.length;
    const scores = sickness.map((z) => 0.4 * z + rng.normal());
    mark(
      parent,
      topK(scores, extra, (s) => !present(s)),
    );
  }
  for (const study of truth) {
    const none = PATHOLOGIES.every((o) => study[obsIndex(o)]?.present !== true);
    study[obsIndex("No Finding")] = { present: none, severity: none ? 1 : 0 };
  }
  return truth;
}

/**
 * One reader's binarized reads (0/1 per observation) of every study. Subtle findings are missed more
 * often than obvious ones; parents and "No Finding" follow the reader's own calls, as a labeler's would.
 */
export function simulateReads(rng: Random, truth: StudyTruth[], reader: ReaderProfile): number[][] {
  return truth.map((study) => {
    const calls = OBSERVATIONS.map((_, k) => {
      const f = study[k] ?? { present: false, severity: 0 };
      const p = f.present
        ? Math.min(0.99, Math.max(0.05, (reader.sens[k] ?? 0) + 0.35 * (f.severity - 0.5)))
        : (reader.fpr[k] ?? 0);
      return rng.chance(p);
    });
    return completeHierarchy(calls.map((c) => (c ? 1 : 0)));
  });
}

/**
 * Makes one row of 0/1 calls consistent the way a labeler's are: a called child implies its parent,
 * and "No Finding" means no pathology was called. Task columns are never changed (none is a parent).
 */
export function completeHierarchy(row: number[]): number[] {
  for (const [parent, children] of Object.entries(PARENTS) as [Observation, Observation[]][]) {
    if (children.some((c) => row[obsIndex(c)] === 1)) row[obsIndex(parent)] = 1;
  }
  row[obsIndex("No Finding")] = PATHOLOGIES.every((o) => row[obsIndex(o)] !== 1) ? 1 : 0;
  return row;
}
