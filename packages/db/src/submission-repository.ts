import type { FailureCategory, SubmissionState } from "@holdout/contracts";
import type { Db } from "./client.ts";
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
      where: { id, state: { in: [...t.from] } },
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

/** `running` is also accepted as a source: a retried job starts again after a crash. */
export function markRunning(db: Db, id: string, worker: string) {
  return transitionSubmission(db, id, {
    from: ["queued", "running"],
    to: "running",
    data: { startedAt: new Date(), attempts: { increment: 1 } },
    worker,
    detail: "evaluation started",
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

export function markFailed(db: Db, id: string, category: FailureCategory, message: string, worker?: string) {
  return transitionSubmission(db, id, {
    from: ["received", "queued", "running", "scoring"],
    to: "failed",
    // Our own faults are never charged to the team.
    data: {
      failureCategory: category,
      failureMessage: message,
      finishedAt: new Date(),
      ...(category === "infrastructure" ? { refunded: true } : {}),
    },
    worker: worker ?? null,
    detail: `${category}: ${message}`,
  });
}

export interface TaskScore {
  task: string;
  auc: number;
  radsBelowCurve: number;
  roc: [number, number][];
}

export interface ScoreRecord {
  meanAuc: number;
  meanRadsBelowCurve: number;
  score: number;
  tasks: TaskScore[];
}

/**
 * Stores the scores and marks the submission `scored`, all or nothing. Idempotent: a retried job
 * finds the submission no longer `scoring` and writes nothing.
 */
export async function recordScore(db: Db, id: string, result: ScoreRecord, worker: string): Promise<boolean> {
  return db.$transaction(async (tx) => {
    const { count } = await tx.submission.updateMany({
      where: { id, state: "scoring" },
      data: {
        state: "scored",
        meanAuc: result.meanAuc,
        meanRadsBelowCurve: result.meanRadsBelowCurve,
        score: result.score,
        finishedAt: new Date(),
      },
    });
    if (count === 0) return false;
    await tx.taskResult.createMany({
      data: result.tasks.map((t) => ({
        submissionId: id,
        task: t.task,
        auc: t.auc,
        radsBelowCurve: t.radsBelowCurve,
        roc: t.roc,
      })),
      skipDuplicates: true,
    });
    await tx.submissionEvent.create({
      data: {
        submissionId: id,
        state: "scored",
        worker,
        detail: `mean AUC ${result.meanAuc.toFixed(4)}, ${result.meanRadsBelowCurve} radiologists below the curve`,
      },
    });
    return true;
  });
}

export type RunPhase = "smoke" | "hidden";

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
