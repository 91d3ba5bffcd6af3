import { getCompetitionPolicy, type CompetitionPolicy, type Db } from "@holdout/db";
import { combinedScore, releasedFigures, roundTo, TASKS } from "@holdout/scorer";
import { Errors } from "../errors.ts";

// What teams and the public may read of a hidden-set result, decided in one place. Stored scores
// keep full precision (ranks, tie marks and organizers use them); every figure that leaves through a
// team's or the public's view is rounded here, at the source, to the competition's released
// precision: a full-precision AUC per submission is an oracle that moving one study's score reads.

/** The competition's release rules, as the views apply them. */
export interface Release {
  closed: boolean;
  aucDecimals: number;
  radsDecimals: number;
  /** The leaderboard ranks on the public part of the test set (and, once closed, finals on the private). */
  split: boolean;
  ladder: boolean;
}

export function releaseOf(policy: CompetitionPolicy): Release {
  return {
    closed: policy.state === "closed",
    aucDecimals: policy.aucDecimals,
    radsDecimals: policy.radsDecimals,
    split: policy.splitFraction !== null,
    ladder: policy.ladder,
  };
}

/** Read on every request: an organizer may close the competition or change the precision at any time. */
export async function currentRelease(db: Db, competitionId: string): Promise<Release> {
  return releaseOf(await getCompetitionPolicy(db, competitionId));
}

/** The problem every upload path answers once the competition has closed. */
export function competitionClosed(): Error {
  return new Errors.CompetitionClosed(
    "the competition has closed: it takes no more submissions. Its leaderboard stays up, with the hidden-set curves of every listed entry",
  );
}

/** Refuses an upload (new or resumed) of a closed competition, before any byte is read. */
export async function refuseIfClosed(db: Db, competitionId: string): Promise<void> {
  if ((await currentRelease(db, competitionId)).closed) throw competitionClosed();
}

export type Interval95 = [number, number] | null;

export interface ScoredTask {
  task: string;
  auc: number;
  auc95: Interval95;
  radsBelowCurve: number;
}

/** One set of scores: the whole test set's, or one part's. */
export interface Scores {
  meanAuc: number;
  meanAuc95: Interval95;
  meanRadsBelowCurve: number;
  /** The ranking key, meanAuc + 0.001 × meanRadsBelowCurve. */
  score: number;
  /** In the official task order. */
  tasks: ScoredTask[];
}

/** A stored [lo, hi] pair as the API shows it: null unless both ends are known. */
export function interval(lo: number | null, hi: number | null): Interval95 {
  return lo === null || hi === null ? null : [lo, hi];
}

export { roundTo };

/**
 * Scores as a team or the public may read them. The score is recomputed from the released mean AUC
 * and rads: the stored one carries the AUC at full precision (only its last digits differ from it).
 */
export function released(scores: Scores, r: Release): Scores {
  const auc = (x: number) => roundTo(x, r.aucDecimals);
  const ci = (v: Interval95): Interval95 => (v ? [auc(v[0]), auc(v[1])] : null);
  const { meanAuc, meanRadsBelowCurve, score } = releasedFigures(
    scores.meanAuc,
    scores.meanRadsBelowCurve,
    r,
  );
  return {
    meanAuc,
    meanAuc95: ci(scores.meanAuc95),
    meanRadsBelowCurve,
    score,
    tasks: scores.tasks.map((t) => ({ ...t, auc: auc(t.auc), auc95: ci(t.auc95) })),
  };
}

/** An AUC as pages print it: exactly the released digits ("0.930"). */
export function formatAuc(x: number, r: Pick<Release, "aucDecimals">): string {
  return x.toFixed(r.aucDecimals);
}

export function formatRads(x: number, r: Pick<Release, "radsDecimals">): string {
  return x.toFixed(r.radsDecimals);
}

/** "0.891–0.925": both ends at the AUC's released precision. */
export function formatInterval(ci: Interval95, r: Pick<Release, "aucDecimals">): string | null {
  return ci ? `${formatAuc(ci[0], r)}–${formatAuc(ci[1], r)}` : null;
}

const TASK_ORDER = new Map<string, number>(TASKS.map((t, i) => [t, i]));

export function byTaskOrder<T extends { task: string }>(tasks: readonly T[]): T[] {
  return [...tasks].sort((a, b) => (TASK_ORDER.get(a.task) ?? 99) - (TASK_ORDER.get(b.task) ?? 99));
}

// ---- reading the stored rows ----

interface TaskResultRow {
  task: string;
  auc: number;
  aucLo: number | null;
  aucHi: number | null;
  radsBelowCurve: number;
}

interface PartRow {
  part: "public" | "private";
  meanAuc: number;
  meanAucLo: number | null;
  meanAucHi: number | null;
  meanRadsBelowCurve: number;
  score: number;
  tasks: unknown;
}

/** A submission as the repositories return it (scores, per-task rows, part scores). */
export interface ScoredRow {
  state: string;
  hidden: boolean;
  disqualified: boolean;
  selectedFinal: boolean;
  ladderImproved: boolean | null;
  meanAuc: number | null;
  meanAucLo: number | null;
  meanAucHi: number | null;
  meanRadsBelowCurve: number | null;
  score: number | null;
  results: TaskResultRow[];
  parts?: PartRow[];
  /** The phase it was made in: an unranked phase's entries (a development phase's) are never listed. */
  phase?: { ranked: boolean };
}

function taskOf(r: TaskResultRow): ScoredTask {
  return { task: r.task, auc: r.auc, auc95: interval(r.aucLo, r.aucHi), radsBelowCurve: r.radsBelowCurve };
}

/** The whole test set's scores at full precision (organizers), or null when not scored. */
export function fullScores(s: ScoredRow): Scores | null {
  if (s.state !== "scored" || s.meanAuc === null || s.meanRadsBelowCurve === null) return null;
  return {
    meanAuc: s.meanAuc,
    meanAuc95: interval(s.meanAucLo, s.meanAucHi),
    meanRadsBelowCurve: s.meanRadsBelowCurve,
    score: s.score ?? combinedScore(s.meanAuc, s.meanRadsBelowCurve),
    tasks: byTaskOrder(s.results.map(taskOf)),
  };
}

/** The stored tasks of a part (JSON written by the worker: trust nothing about its shape). */
export function partTasks(v: unknown): ScoredTask[] {
  if (!Array.isArray(v)) return [];
  return byTaskOrder(
    v.flatMap((t: unknown) => {
      const o = (t ?? {}) as Record<string, unknown>;
      if (typeof o.task !== "string" || typeof o.auc !== "number") return [];
      const lo = typeof o.aucLo === "number" ? o.aucLo : null;
      const hi = typeof o.aucHi === "number" ? o.aucHi : null;
      const rads = typeof o.radsBelowCurve === "number" ? o.radsBelowCurve : 0;
      return [{ task: o.task, auc: o.auc, auc95: interval(lo, hi), radsBelowCurve: rads }];
    }),
  );
}

/** One part's scores at full precision, or null (not scored, or scored without a split). */
export function partScores(s: ScoredRow, part: "public" | "private"): Scores | null {
  if (s.state !== "scored") return null;
  const p = s.parts?.find((x) => x.part === part);
  if (!p) return null;
  return {
    meanAuc: p.meanAuc,
    meanAuc95: interval(p.meanAucLo, p.meanAucHi),
    meanRadsBelowCurve: p.meanRadsBelowCurve,
    score: p.score,
    tasks: partTasks(p.tasks),
  };
}

/** What a team or the public may read of a submission's scores, before rounding. */
export interface Shown {
  /** The scores the leaderboard ranks it on while open: the public part's with a split, else the whole set's. */
  board: Scores | null;
  /** With a split, once closed: the private part's. */
  privatePart: Scores | null;
  /** Ladder: scored, but not significantly better than the team's best, so nothing was released. */
  withheld: boolean;
}

export function shownScores(s: ScoredRow, r: Release): Shown {
  if (s.ladderImproved === false) return { board: null, privatePart: null, withheld: true };
  if (!r.split) return { board: fullScores(s), privatePart: null, withheld: false };
  return {
    board: partScores(s, "public"),
    privatePart: r.closed ? partScores(s, "private") : null,
    withheld: false,
  };
}

/** Listed on the (public-part, with a split) leaderboard: the listing rule of packages/db on the shown scores. */
export function listedOnBoard(s: ScoredRow, r: Release, aucFloor: number): boolean {
  const board = shownScores(s, r).board;
  return (
    s.state === "scored" &&
    s.phase?.ranked !== false &&
    !s.hidden &&
    !s.disqualified &&
    board !== null &&
    board.meanAuc >= aucFloor
  );
}

/** Ranked on the final (private-part) board: a closed, split competition's chosen finals. */
export function listedOnFinalBoard(s: ScoredRow, r: Release, aucFloor: number): boolean {
  const p = shownScores(s, r).privatePart;
  return (
    s.state === "scored" &&
    s.phase?.ranked !== false &&
    s.selectedFinal &&
    !s.hidden &&
    !s.disqualified &&
    p !== null &&
    p.meanAuc >= aucFloor
  );
}

/** Whether anyone may read the submission's leaderboard fields (and, once closed, its curves). */
export function isPublicEntry(s: ScoredRow, r: Release, aucFloor: number): boolean {
  return listedOnBoard(s, r, aucFloor) || listedOnFinalBoard(s, r, aucFloor);
}
