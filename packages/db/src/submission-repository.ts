import type { FailureCategory, SubmissionState } from "@holdout/contracts";
import type { Db } from "./client.ts";

export type RunPhase = "smoke" | "hidden";
import type { Prisma } from "./generated/prisma/client.ts";

export interface NewSubmission {
  id: string;
  competitionId: string;
  teamId: string;
  modelName: string;
  description: string | null;
  link: string | null;
  ensemble: boolean;
  uploadFile: string | null;
  uploadSize: number;
  uploadSha256: string;
  kind?: "image" | "bundle";
  bundleDir?: string | null;
  command?: string | null;
}

export class QuotaReservationLostError extends Error {
  constructor(id: string) {
    super(`the quota slot ${id} held for this upload has expired`);
    this.name = "QuotaReservationLostError";
  }
}

/**
 * Records an upload that is fully on disk, in state `received`, with its first timeline event.
 * With a reservation, the quota slot it held becomes this submission in the same transaction, so
 * the team's count never sees both or neither.
 */
export async function createSubmission(db: Db, s: NewSubmission, reservationId?: string) {
  return db.$transaction(async (tx) => {
    if (reservationId !== undefined) {
      const { count } = await tx.quotaReservation.deleteMany({
        where: { id: reservationId, expiresAt: { gt: new Date() } },
      });
      if (count === 0) throw new QuotaReservationLostError(reservationId);
    }
    return tx.submission.create({
      data: {
        ...s,
        uploadSize: BigInt(s.uploadSize),
        state: "received",
        events: { create: { state: "received", detail: `upload of ${s.uploadSize} bytes` } },
      },
    });
  });
}

export interface Transition {
  from: readonly SubmissionState[];
  to: SubmissionState;
  /** Further conditions on the row, checked in the same statement. */
  where?: Prisma.SubmissionWhereInput;
  data?: Omit<Prisma.SubmissionUpdateManyMutationInput, "state">;
  detail?: string | null;
  worker?: string | null;
}

/**
 * Moves a submission between states if, and only if, it is in one of `from`. The check and the
 * update are one statement, so two workers (or a worker and a cancel) cannot both win; the
 * timeline event is written in the same transaction. Returns whether the transition happened.
 */
export async function transitionSubmission(db: Db, id: string, t: Transition): Promise<boolean> {
  return db.$transaction(async (tx) => {
    const { count } = await tx.submission.updateMany({
      where: { ...t.where, id, state: { in: [...t.from] } },
      data: { ...t.data, state: t.to },
    });
    if (count === 0) return false;
    await tx.submissionEvent.create({
      data: { submissionId: id, state: t.to, detail: t.detail ?? null, worker: t.worker ?? null },
    });
    return true;
  });
}

export function markQueued(db: Db, id: string) {
  return transitionSubmission(db, id, {
    from: ["received"],
    to: "queued",
    data: { queuedAt: new Date() },
    detail: "waiting for a worker",
  });
}

/**
 * `running` is also accepted as a source: a retried job starts again after a crash. A cancel that
 * was requested before the run began stops it here (see requestCancel).
 */
export function markRunning(db: Db, id: string, worker: string) {
  const now = new Date();
  return transitionSubmission(db, id, {
    from: ["queued", "running"],
    to: "running",
    where: { cancelRequestedAt: null },
    data: { startedAt: now, attempts: { increment: 1 }, worker, heartbeatAt: now },
    worker,
    detail: "evaluation started",
  });
}

/**
 * A step of a running evaluation on the timeline ("smoke run started"); the state stays `running`.
 * False, and nothing written, if the submission is no longer running.
 */
export function noteRunning(
  db: Db,
  id: string,
  worker: string,
  detail: string,
  data?: Transition["data"],
): Promise<boolean> {
  return transitionSubmission(db, id, {
    from: ["running"],
    to: "running",
    data: { ...data, heartbeatAt: new Date() },
    worker,
    detail,
  });
}

/**
 * Gives a run back to the queue (its worker is shutting down, or died): `queued` again, with the
 * reason on the timeline. Only from the states a run holds, so a final state is never undone.
 */
export function returnToQueue(
  db: Db,
  id: string,
  t: { detail: string; worker?: string | null; from?: readonly SubmissionState[] },
): Promise<boolean> {
  return transitionSubmission(db, id, {
    from: t.from ?? ["running", "scoring"],
    to: "queued",
    data: { queuedAt: new Date(), worker: null, heartbeatAt: null },
    worker: t.worker ?? null,
    detail: t.detail,
  });
}

export const CANCELLED_DETAIL = "cancelled by the team";

/** The end of a run whose cancel was requested (the worker stopped its containers). */
export function markCancelled(db: Db, id: string, worker: string | null, detail = CANCELLED_DETAIL) {
  return transitionSubmission(db, id, {
    from: ["received", "queued", "running", "scoring"],
    to: "cancelled",
    data: { finishedAt: new Date(), heartbeatAt: null },
    worker,
    detail,
  });
}

export type CancelOutcome =
  /** It had not started: it is `cancelled` now. */
  | { outcome: "cancelled"; state: "cancelled" }
  /** It is running: its worker stops it within a heartbeat and then marks it `cancelled`. */
  | { outcome: "stopping"; state: SubmissionState }
  /** Already final (scored, failed or cancelled): nothing changed. */
  | { outcome: "final"; state: SubmissionState };

/**
 * The database side of a team's cancel. A submission that has not started (received, queued) is
 * cancelled at once; its job, if any, finds it cancelled and does nothing. A running one gets
 * `cancelRequestedAt` (the first request's time is kept) and a timeline event; the worker running it
 * sees the flag at its next heartbeat, stops the containers and marks it `cancelled`. Null if there
 * is no such submission. Cancelled submissions stay charged to the quota, as in the official rules.
 */
export async function requestCancel(db: Db, id: string): Promise<CancelOutcome | null> {
  const now = new Date();
  const direct = await transitionSubmission(db, id, {
    from: ["received", "queued"],
    to: "cancelled",
    data: { cancelRequestedAt: now, finishedAt: now },
    detail: CANCELLED_DETAIL,
  });
  if (direct) return { outcome: "cancelled", state: "cancelled" };
  return db.$transaction(async (tx) => {
    const row = await tx.submission.findUnique({
      where: { id },
      select: { state: true, cancelRequestedAt: true },
    });
    if (!row) return null;
    if (row.state !== "running" && row.state !== "scoring") {
      // received/queued here means a transition raced ours; it is final or running by the next call.
      return { outcome: "final", state: row.state };
    }
    if (row.cancelRequestedAt === null) {
      await tx.submission.updateMany({
        where: { id, state: { in: ["running", "scoring"] }, cancelRequestedAt: null },
        data: { cancelRequestedAt: now },
      });
      await tx.submissionEvent.create({
        data: {
          submissionId: id,
          state: row.state,
          detail: "cancel requested by the team; stopping the run",
        },
      });
    }
    return { outcome: "stopping", state: row.state };
  });
}

export function markScoring(db: Db, id: string, worker: string, image: { digest: string; size: number }) {
  return transitionSubmission(db, id, {
    from: ["running"],
    to: "scoring",
    data: { imageDigest: image.digest, imageSize: BigInt(image.size) },
    worker,
    detail: "model finished; scoring its predictions",
  });
}

export const SMOKE_FAILURE_NOTE =
  "it failed in the smoke run, so the hidden run was not spent and it is not charged to your quota";

/**
 * Ends a submission as failed. Our own faults (infrastructure) and failures in the smoke run (the
 * hidden test set was never touched) are refunded: they do not count against the team's quota.
 */
export function markFailed(
  db: Db,
  id: string,
  category: FailureCategory,
  message: string,
  worker?: string,
  opts: { phase?: RunPhase } = {},
) {
  const refunded = category === "infrastructure" || opts.phase === "smoke";
  return transitionSubmission(db, id, {
    from: ["received", "queued", "running", "scoring"],
    to: "failed",
    data: {
      failureCategory: category,
      failureMessage: message,
      finishedAt: new Date(),
      heartbeatAt: null,
      ...(opts.phase ? { failedPhase: opts.phase } : {}),
      ...(refunded ? { refunded: true } : {}),
    },
    worker: worker ?? null,
    detail:
      opts.phase === "smoke"
        ? `${category} in the smoke run: ${message}; ${SMOKE_FAILURE_NOTE}`
        : `${category}: ${message}`,
  });
}

export interface TaskScore {
  task: string;
  auc: number;
  radsBelowCurve: number;
  roc: [number, number][];
  /** 95% bootstrap interval of the AUC. */
  aucLo?: number;
  aucHi?: number;
  /** The scorer's plot data besides the ROC: `{ pr, readerPoints, majority }`. */
  curves?: object;
}

export interface ScoreRecord {
  meanAuc: number;
  meanRadsBelowCurve: number;
  score: number;
  tasks: TaskScore[];
  meanAucLo?: number;
  meanAucHi?: number;
  /** The predictions as scored (canonical CSV), kept for re-scoring and the paired comparisons. */
  predictionsCsv?: string;
}

function scoreColumns(result: ScoreRecord) {
  return {
    meanAuc: result.meanAuc,
    meanRadsBelowCurve: result.meanRadsBelowCurve,
    score: result.score,
    meanAucLo: result.meanAucLo ?? null,
    meanAucHi: result.meanAucHi ?? null,
  };
}

function taskRows(id: string, result: ScoreRecord) {
  return result.tasks.map((t) => ({
    submissionId: id,
    task: t.task,
    auc: t.auc,
    radsBelowCurve: t.radsBelowCurve,
    roc: t.roc,
    aucLo: t.aucLo ?? null,
    aucHi: t.aucHi ?? null,
    ...(t.curves === undefined ? {} : { curves: t.curves }),
  }));
}

const scoreDetail = (r: ScoreRecord) =>
  `mean AUC ${r.meanAuc.toFixed(4)}, ${r.meanRadsBelowCurve} radiologists below the curve`;

/**
 * Stores the scores (with intervals, curves and predictions when given) and marks the submission
 * `scored`, all or nothing. Idempotent: a retried job finds the submission no longer `scoring` and
 * writes nothing.
 */
export async function recordScore(db: Db, id: string, result: ScoreRecord, worker: string): Promise<boolean> {
  return db.$transaction(async (tx) => {
    const { count } = await tx.submission.updateMany({
      where: { id, state: "scoring" },
      data: { state: "scored", ...scoreColumns(result), finishedAt: new Date(), heartbeatAt: null },
    });
    if (count === 0) return false;
    await tx.taskResult.createMany({ data: taskRows(id, result), skipDuplicates: true });
    if (result.predictionsCsv !== undefined) {
      await tx.submissionPredictions.upsert({
        where: { submissionId: id },
        create: { submissionId: id, csv: result.predictionsCsv },
        update: { csv: result.predictionsCsv },
      });
    }
    await tx.submissionEvent.create({
      data: { submissionId: id, state: "scored", worker, detail: scoreDetail(result) },
    });
    return true;
  });
}

/**
 * Re-scoring: replaces a scored submission's results (means, intervals, per-task rows and curves)
 * in one transaction, with a timeline event. False if it is not `scored` (nothing written).
 */
export async function replaceScore(
  db: Db,
  id: string,
  result: ScoreRecord,
  event: { worker: string; detail: string },
): Promise<boolean> {
  return db.$transaction(async (tx) => {
    const { count } = await tx.submission.updateMany({
      where: { id, state: "scored" },
      data: scoreColumns(result),
    });
    if (count === 0) return false;
    await tx.taskResult.deleteMany({ where: { submissionId: id } });
    await tx.taskResult.createMany({ data: taskRows(id, result) });
    await tx.submissionEvent.create({
      data: {
        submissionId: id,
        state: "scored",
        worker: event.worker,
        detail: `${event.detail}: ${scoreDetail(result)}`,
      },
    });
    return true;
  });
}

/** The stored predictions of a scored submission, or null. */
export async function findSubmissionPredictions(db: Db, id: string): Promise<string | null> {
  const row = await db.submissionPredictions.findUnique({
    where: { submissionId: id },
    select: { csv: true },
  });
  return row?.csv ?? null;
}

/** A timeline note on a submission in any state (e.g. a re-score that could not be done). */
export async function addSubmissionNote(db: Db, id: string, detail: string, worker: string | null) {
  const row = await db.submission.findUnique({ where: { id }, select: { state: true } });
  if (!row) return false;
  await db.submissionEvent.create({ data: { submissionId: id, state: row.state, worker, detail } });
  return true;
}

export async function saveSubmissionLog(
  db: Db,
  id: string,
  text: string,
  truncated: boolean,
  phase: RunPhase = "hidden",
) {
  // PostgreSQL text cannot hold NUL bytes, which a hostile model may print.
  const clean = text.replaceAll("\u0000", "\uFFFD");
  await db.submissionLog.upsert({
    where: { submissionId_phase: { submissionId: id, phase } },
    create: { submissionId: id, phase, text: clean, truncated },
    update: { text: clean, truncated },
  });
}

export async function findSubmission(db: Db, id: string) {
  return db.submission.findUnique({
    where: { id },
    include: {
      results: { orderBy: { task: "asc" } },
      team: { select: { id: true, name: true, institution: true } },
    },
  });
}

export async function listSubmissionEvents(db: Db, id: string) {
  return db.submissionEvent.findMany({ where: { submissionId: id }, orderBy: { id: "asc" } });
}

export async function findSubmissionLog(db: Db, id: string, phase: RunPhase = "hidden") {
  return db.submissionLog.findUnique({ where: { submissionId_phase: { submissionId: id, phase } } });
}

export async function listTeamSubmissions(db: Db, teamId: string) {
  return db.submission.findMany({
    where: { teamId },
    orderBy: { createdAt: "desc" },
    include: { results: true },
  });
}

/** Every submission of a competition, newest first (organizers). */
export async function listCompetitionSubmissions(db: Db, competitionId: string) {
  return db.submission.findMany({
    where: { competitionId },
    orderBy: { createdAt: "desc" },
    include: { results: true, team: { select: { id: true, name: true, institution: true } } },
  });
}

/** Takes a submission off the leaderboard or puts it back; false if it does not exist. */
export async function setSubmissionHidden(db: Db, id: string, hidden: boolean): Promise<boolean> {
  const { count } = await db.submission.updateMany({ where: { id }, data: { hidden } });
  return count === 1;
}
