import type { SubmissionState } from "@holdout/contracts";
import type { Db } from "./client.ts";

export interface WorkerIdentity {
  name: string;
  host: string;
  pid: number;
  concurrency: number;
  startedAt: Date;
}

/**
 * A worker's heartbeat: its row in WorkerHeartbeat (organizers see it; the reconciler reads it) and
 * `heartbeatAt` on the submissions it is running. Returns the ids among `running` whose team asked
 * to cancel, for the worker to stop.
 */
export async function recordHeartbeat(
  db: Db,
  worker: WorkerIdentity,
  running: readonly string[],
  now = new Date(),
): Promise<string[]> {
  await db.workerHeartbeat.upsert({
    where: { name: worker.name },
    create: { ...worker, running: running.length, lastSeenAt: now },
    update: {
      host: worker.host,
      pid: worker.pid,
      concurrency: worker.concurrency,
      startedAt: worker.startedAt,
      running: running.length,
      lastSeenAt: now,
    },
  });
  if (running.length === 0) return [];
  await db.submission.updateMany({
    where: { id: { in: [...running] }, state: { in: ["running", "scoring"] }, worker: worker.name },
    data: { heartbeatAt: now },
  });
  const cancelled = await db.submission.findMany({
    where: { id: { in: [...running] }, cancelRequestedAt: { not: null } },
    select: { id: true },
  });
  return cancelled.map((s) => s.id);
}

/** A worker that stops cleanly takes its row away; a crashed one's row goes stale instead. */
export async function removeHeartbeat(db: Db, name: string): Promise<void> {
  await db.workerHeartbeat.deleteMany({ where: { name } });
}

/** Workers seen since `since`, by name. */
export async function liveWorkerNames(db: Db, since: Date): Promise<Set<string>> {
  const rows = await db.workerHeartbeat.findMany({
    where: { lastSeenAt: { gte: since } },
    select: { name: true },
  });
  return new Set(rows.map((r) => r.name));
}

export interface UnfinishedSubmission {
  id: string;
  competitionId: string;
  state: SubmissionState;
  worker: string | null;
  heartbeatAt: Date | null;
  queuedAt: Date | null;
  startedAt: Date | null;
  createdAt: Date;
}

/** Submissions a worker still owes a final state: received, queued, running or scoring (optionally of one competition). */
export async function listUnfinished(db: Db, competitionId?: string): Promise<UnfinishedSubmission[]> {
  return db.submission.findMany({
    where: {
      state: { in: ["received", "queued", "running", "scoring"] },
      ...(competitionId === undefined ? {} : { competitionId }),
    },
    orderBy: { createdAt: "asc" },
    select: {
      id: true,
      competitionId: true,
      state: true,
      worker: true,
      heartbeatAt: true,
      queuedAt: true,
      startedAt: true,
      createdAt: true,
    },
  });
}

export const RECONCILER_REQUEUE_DETAIL = "re-queued by the reconciler";

/** How often the reconciler already put this submission back in the queue (from its timeline). */
export async function countReconcilerRequeues(db: Db, id: string): Promise<number> {
  return db.submissionEvent.count({
    where: { submissionId: id, detail: { startsWith: RECONCILER_REQUEUE_DETAIL } },
  });
}

/**
 * Runs `fn` only if no other process holds the named lock, and holds it while `fn` runs (a
 * transaction-scoped advisory lock: released even if this process dies). Null if it was taken.
 * `fn` may use `db` freely; the transaction exists only to hold the lock.
 */
export async function withTryLock<T>(
  db: Db,
  key: string,
  fn: () => Promise<T>,
  timeoutMs = 120_000,
): Promise<{ value: T } | null> {
  return db.$transaction(
    async (tx) => {
      const [row] = await tx.$queryRaw<
        { locked: boolean }[]
      >`SELECT pg_try_advisory_xact_lock(hashtext(${key})) AS locked`;
      if (!row?.locked) return null;
      return { value: await fn() };
    },
    { maxWait: 10_000, timeout: timeoutMs },
  );
}
