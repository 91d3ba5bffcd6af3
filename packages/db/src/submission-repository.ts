import { recordAudit, type AuditActor } from "./audit-repository.ts";
import type { Db } from "./client.ts";
import { findCompetitionPhase, requireOpenPhase } from "./phase-repository.ts";

export type RunPhase = "smoke" | "hidden";

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
  /** The phase it is made in, when recorded without a reservation (seeds, imports); default: the open one. */
  phaseId?: string;
}

export class QuotaReservationLostError extends Error {
  constructor(id: string) {
    super(`the quota slot ${id} held for this upload has expired`);
    this.name = "QuotaReservationLostError";
  }
}

export class CompetitionClosedError extends Error {
  constructor() {
    super("the competition has closed: it takes no more submissions");
    this.name = "CompetitionClosedError";
  }
}

/**
 * Records an upload that is fully on disk, in state `received`, with its first timeline event;
 * CompetitionClosedError once the competition has closed. With a reservation, the quota slot it
 * held becomes this submission in the same transaction, so the team's count never sees both or
 * neither, and the submission joins the phase the slot was charged to (open when the upload
 * began, even if it ended while the file streamed in). Without one it joins the phase given, or
 * the phase open now (NoOpenPhaseError, naming the next one, if none is).
 */
export async function createSubmission(db: Db, s: NewSubmission, reservationId?: string) {
  return db.$transaction(async (tx) => {
    // Under a share lock on the competition row: closing (an update of that row) waits for uploads
    // being recorded, and an upload recorded after it sees the competition closed.
    const [competition] = await tx.$queryRaw<{ state: string }[]>`
      SELECT state::text FROM "Competition" WHERE id = ${s.competitionId}::uuid FOR SHARE`;
    if (competition?.state === "closed") throw new CompetitionClosedError();
    let phaseId: string;
    if (reservationId !== undefined) {
      const live = { id: reservationId, expiresAt: { gt: new Date() } };
      const held = await tx.quotaReservation.findFirst({ where: live, select: { phaseId: true } });
      // Counted as well: a release (or an expiry sweep) between the read and the delete loses the slot.
      const { count } = await tx.quotaReservation.deleteMany({ where: live });
      if (!held || count === 0) throw new QuotaReservationLostError(reservationId);
      phaseId = held.phaseId;
    } else if (s.phaseId !== undefined) {
      const phase = await findCompetitionPhase(tx, s.competitionId, s.phaseId);
      if (!phase) throw new Error(`phase ${s.phaseId} is not one of competition ${s.competitionId}'s`);
      phaseId = phase.id;
    } else {
      phaseId = (await requireOpenPhase(tx, s.competitionId, new Date())).id;
    }
    return tx.submission.create({
      data: {
        ...s,
        phaseId,
        uploadSize: BigInt(s.uploadSize),
        state: "received",
        events: { create: { state: "received", detail: `upload of ${s.uploadSize} bytes` } },
      },
    });
  });
}

/** A timeline note on a submission in any state (e.g. a re-score that could not be done). */
export async function addSubmissionNote(db: Db, id: string, detail: string, worker: string | null) {
  const row = await db.submission.findUnique({ where: { id }, select: { state: true } });
  if (!row) return false;
  await db.submissionEvent.create({ data: { submissionId: id, state: row.state, worker, detail } });
  return true;
}

export async function findSubmission(db: Db, id: string) {
  return db.submission.findUnique({
    where: { id },
    include: {
      results: { orderBy: { task: "asc" } },
      parts: true,
      team: { select: { id: true, name: true, institution: true, baseline: true } },
      phase: { select: { ranked: true } },
    },
  });
}

/** The phase a submission was made in: what its runs are on and what its team may read of them. */
export async function findSubmissionPhase(db: Db, submissionId: string) {
  const s = await db.submission.findUnique({ where: { id: submissionId }, select: { phase: true } });
  return s?.phase ?? null;
}

export async function listSubmissionEvents(db: Db, id: string) {
  return db.submissionEvent.findMany({ where: { submissionId: id }, orderBy: { id: "asc" } });
}

/**
 * The timeline events of several submissions written after each one's cursor (an event id), oldest
 * first, at most `limit` of them: what the live event streams have not seen yet.
 */
export async function listNewSubmissionEvents(db: Db, after: ReadonlyMap<string, bigint>, limit: number) {
  return db.submissionEvent.findMany({
    where: { OR: [...after].map(([submissionId, id]) => ({ submissionId, id: { gt: id } })) },
    orderBy: { id: "asc" },
    take: limit,
  });
}

export async function findSubmissionLog(db: Db, id: string, phase: RunPhase = "hidden") {
  return db.submissionLog.findUnique({ where: { submissionId_phase: { submissionId: id, phase } } });
}

/** A submission's run logs, in the order its phases run (smoke, then hidden). */
export async function listSubmissionLogs(db: Db, id: string) {
  return db.submissionLog.findMany({ where: { submissionId: id }, orderBy: { phase: "asc" } });
}

/**
 * The submission a team's upload became, if it did (the upload's id is the submission's): its size
 * and state, for a client whose last answer was lost. Null for another team's or competition's.
 */
export async function findUploadedSubmission(db: Db, competitionId: string, teamId: string, id: string) {
  return db.submission.findFirst({
    where: { id, teamId, competitionId },
    select: { uploadSize: true, state: true },
  });
}

/**
 * A competition's submission as a re-score needs it: its state and whether its predictions were
 * kept (only those can be scored again); null if the competition has no such submission.
 */
export async function findRescoreCandidate(db: Db, competitionId: string, id: string) {
  const s = await db.submission.findFirst({
    where: { id, competitionId },
    select: { id: true, state: true, predictions: { select: { submissionId: true } } },
  });
  return s && { id: s.id, state: s.state, predictionsKept: s.predictions !== null };
}

export async function listTeamSubmissions(db: Db, teamId: string) {
  return db.submission.findMany({
    where: { teamId },
    orderBy: { createdAt: "desc" },
    include: { results: true, parts: true, phase: { select: { ranked: true } } },
  });
}

/** Every submission of a competition, newest first (organizers). */
export async function listCompetitionSubmissions(db: Db, competitionId: string) {
  return db.submission.findMany({
    where: { competitionId },
    orderBy: { createdAt: "desc" },
    include: {
      results: true,
      parts: true,
      team: { select: { id: true, name: true, institution: true, baseline: true } },
      phase: { select: { ranked: true } },
    },
  });
}

/** The latest `limit` submissions of a competition, newest first, with their team's name (organizers). */
export async function listRecentSubmissions(db: Db, competitionId: string, limit: number) {
  return db.submission.findMany({
    where: { competitionId },
    orderBy: { createdAt: "desc" },
    take: limit,
    include: { results: true, parts: true, team: { select: { name: true, baseline: true } } },
  });
}

/** How the given submissions ended, or where they stand: state, failure, end time, task results held. */
export async function listSubmissionOutcomes(db: Db, ids: readonly string[]) {
  const rows = await db.submission.findMany({
    where: { id: { in: [...ids] } },
    select: {
      id: true,
      state: true,
      failureCategory: true,
      finishedAt: true,
      _count: { select: { results: true } },
    },
  });
  return rows.map(({ _count, ...r }) => ({ ...r, taskResults: _count.results }));
}

/**
 * Takes a submission off the leaderboard or puts it back; false if it does not exist. An organizer's
 * change (`by`) leaves an audit row; a team's own does not.
 */
export async function setSubmissionHidden(
  db: Db,
  id: string,
  hidden: boolean,
  by?: AuditActor,
): Promise<boolean> {
  return db.$transaction(async (tx) => {
    const { count } = await tx.submission.updateMany({ where: { id }, data: { hidden } });
    if (count === 1 && by) {
      await recordAudit(tx, by, {
        action: hidden ? "submission.hide" : "submission.unhide",
        targetType: "submission",
        targetId: id,
      });
    }
    return count === 1;
  });
}

/**
 * Disqualifies (with the reason shown to the team) or requalifies a competition's submission, with
 * its timeline event and the audit row in one transaction; false if there is no such submission.
 */
export async function setSubmissionDisqualified(
  db: Db,
  by: AuditActor,
  id: string,
  disqualified: boolean,
  reason: string | null,
): Promise<boolean> {
  return db.$transaction(async (tx) => {
    const s = await tx.submission.findFirst({
      where: { id, competitionId: by.competitionId },
      select: { state: true },
    });
    if (!s) return false;
    await tx.submission.update({
      where: { id },
      data: { disqualified, disqualifiedReason: disqualified ? reason : null },
    });
    await tx.submissionEvent.create({
      data: {
        submissionId: id,
        state: s.state,
        detail: disqualified
          ? `disqualified by the organizers: ${reason ?? ""}`
          : "requalified by the organizers",
      },
    });
    await recordAudit(tx, by, {
      action: disqualified ? "submission.disqualify" : "submission.requalify",
      targetType: "submission",
      targetId: id,
      detail: disqualified ? reason : null,
    });
    return true;
  });
}
