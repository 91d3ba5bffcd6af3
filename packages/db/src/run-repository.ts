import { randomUUID } from "node:crypto";
import type { SubmissionState } from "@holdout/contracts";
import type { Db } from "./client.ts";
import type { RunPhase } from "./submission-repository.ts";
import {
  RUN_TRANSACTION,
  transitionSubmission,
  type RunLease,
  type Transition,
} from "./transition-repository.ts";

/**
 * An evaluation's run, fenced by its lease. Starting one is a conditional transition that takes the
 * lease; every later write of the run (timeline, logs, scores, final state, heartbeat) carries the
 * lease and is refused once another run holds the row. A lease lapses `leaseMs` after the run's
 * last heartbeat (judged by the database's clock, so hosts need not agree on the time); only then,
 * or once its run gave it up, can another run start. So a job that BullMQ delivers twice (a stalled
 * check after a missed lock renewal, a re-queue) never runs the model twice at once, and a run that
 * lost its lease cannot overwrite the result of the one that took over.
 */

export type RunStart =
  | { lease: RunLease }
  | {
      lease: null;
      /** Null: no such submission. */
      refused: {
        state: SubmissionState;
        cancelRequested: boolean;
        /** Another run's live lease: who holds it and when it lapses unless renewed. */
        heldBy: { worker: string | null; until: Date } | null;
      } | null;
    };

/**
 * Starts a run: `queued` → `running`, or a `running` row whose previous run's lease has lapsed or
 * was given up (a retry, or a worker that died mid-run), never one whose lease is live. Counts an
 * attempt and writes "evaluation started" on the timeline. A cancel requested before the run began
 * stops it here (see requestCancel).
 */
export async function startRun(
  db: Db,
  id: string,
  opts: { worker: string; leaseMs: number },
): Promise<RunStart> {
  const token = randomUUID();
  return db.$transaction(async (tx) => {
    const taken = await tx.$executeRaw`
      UPDATE "Submission"
      SET state = 'running', "startedAt" = now(), attempts = attempts + 1, worker = ${opts.worker},
          "heartbeatAt" = now(), "leaseToken" = ${token}::uuid,
          "leaseExpiresAt" = now() + ${opts.leaseMs} * interval '1 millisecond'
      WHERE id = ${id}::uuid AND "cancelRequestedAt" IS NULL
        AND (state = 'queued' OR (state = 'running' AND
             ("leaseToken" IS NULL OR "leaseExpiresAt" IS NULL OR "leaseExpiresAt" <= now())))`;
    if (taken === 1) {
      await tx.submissionEvent.create({
        data: { submissionId: id, state: "running", worker: opts.worker, detail: "evaluation started" },
      });
      return { lease: { submissionId: id, worker: opts.worker, token } };
    }
    const [row] = await tx.$queryRaw<
      {
        state: SubmissionState;
        cancelRequested: boolean;
        worker: string | null;
        until: Date;
        live: boolean;
      }[]
    >`
      SELECT state::text AS state, "cancelRequestedAt" IS NOT NULL AS "cancelRequested", worker,
             "leaseExpiresAt" AS until,
             ("leaseToken" IS NOT NULL AND "leaseExpiresAt" > now()) AS live
      FROM "Submission" WHERE id = ${id}::uuid`;
    if (!row) return { lease: null, refused: null };
    return {
      lease: null,
      refused: {
        state: row.state,
        cancelRequested: row.cancelRequested,
        heldBy:
          row.live && (row.state === "running" || row.state === "scoring")
            ? { worker: row.worker, until: row.until }
            : null,
      },
    };
  }, RUN_TRANSACTION);
}

/**
 * Renews the leases of the runs a worker is beating for (and their `heartbeatAt`). Returns the
 * tokens still held, and the submissions among them whose team asked to cancel.
 */
export async function renewLeases(
  db: Db,
  leases: readonly RunLease[],
  leaseMs: number,
): Promise<{ held: Set<string>; cancelRequested: string[] }> {
  if (leases.length === 0) return { held: new Set(), cancelRequested: [] };
  const rows = await db.$queryRaw<{ id: string; token: string; cancelRequested: boolean }[]>`
    UPDATE "Submission"
    SET "heartbeatAt" = now(), "leaseExpiresAt" = now() + ${leaseMs} * interval '1 millisecond'
    WHERE "leaseToken" = ANY(${leases.map((l) => l.token)}::uuid[]) AND state IN ('running', 'scoring')
    RETURNING id::text AS id, "leaseToken"::text AS token,
              "cancelRequestedAt" IS NOT NULL AS "cancelRequested"`;
  return {
    held: new Set(rows.map((r) => r.token)),
    cancelRequested: rows.filter((r) => r.cancelRequested).map((r) => r.id),
  };
}

/**
 * A step of a running evaluation on the timeline ("smoke run started"); the state stays `running`.
 * False, and nothing written, if the run no longer holds the submission.
 */
export function noteRunning(
  db: Db,
  lease: RunLease,
  detail: string,
  data?: Transition["data"],
): Promise<boolean> {
  return transitionSubmission(db, lease.submissionId, {
    from: ["running"],
    to: "running",
    holder: lease,
    data: { ...data, heartbeatAt: new Date() },
    worker: lease.worker,
    detail,
  });
}

export function markScoring(db: Db, lease: RunLease, image: { digest: string; size: number }) {
  return transitionSubmission(db, lease.submissionId, {
    from: ["running"],
    to: "scoring",
    holder: lease,
    data: { imageDigest: image.digest, imageSize: BigInt(image.size) },
    worker: lease.worker,
    detail: "model finished; scoring its predictions",
  });
}

/**
 * Gives up a run's lease and leaves the row `running`: the run failed on an infrastructure fault
 * and its job will be retried, which may then start at once instead of waiting for the lease to
 * lapse. Nothing on the timeline (the retry's "evaluation started" follows).
 */
export async function releaseRun(db: Db, lease: RunLease): Promise<boolean> {
  const { count } = await db.submission.updateMany({
    where: { id: lease.submissionId, leaseToken: lease.token, state: { in: ["running", "scoring"] } },
    data: { leaseToken: null, leaseExpiresAt: null },
  });
  return count === 1;
}

/**
 * Stores a run's log (one per phase), if the run still holds the submission: `text` is what the
 * team reads; `fullText`, when the competition's log policy cut it, the whole captured log for
 * organizers. The holder's check locks the row, so a run taking over meanwhile waits for this to
 * commit.
 */
export async function saveSubmissionLog(
  db: Db,
  lease: RunLease,
  text: string,
  truncated: boolean,
  phase: RunPhase = "hidden",
  fullText?: string,
): Promise<boolean> {
  const submissionId = lease.submissionId;
  // PostgreSQL text cannot hold NUL bytes, which a hostile model may print.
  const clean = (t: string) => t.replaceAll("\u0000", "\uFFFD");
  const data = { text: clean(text), truncated, fullText: fullText === undefined ? null : clean(fullText) };
  return db.$transaction(async (tx) => {
    const { count } = await tx.submission.updateMany({
      where: { id: submissionId, leaseToken: lease.token, state: "running" },
      data: { heartbeatAt: new Date() },
    });
    if (count === 0) return false;
    await tx.submissionLog.upsert({
      where: { submissionId_phase: { submissionId, phase } },
      create: { submissionId, phase, ...data },
      update: data,
    });
    return true;
  }, RUN_TRANSACTION);
}
