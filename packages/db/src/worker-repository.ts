import type { SubmissionState } from "@holdout/contracts";
import type { Db } from "./client.ts";
import type { Prisma } from "./generated/prisma/client.ts";
import { renewLeases } from "./run-repository.ts";
import type { RunLease } from "./transition-repository.ts";

export interface WorkerIdentity {
  name: string;
  host: string;
  pid: number;
  concurrency: number;
  startedAt: Date;
  /** The limits it applies to every run (shown on the competition page); JSON, as the worker words them. */
  limits?: Prisma.InputJsonValue;
  /** The ID of the runtime image code bundles run in on this worker; null: none. */
  runtimeImageId?: string | null;
}

/**
 * A worker's heartbeat: its row in WorkerHeartbeat (organizers see it; the reconciler reads it), and
 * the renewal of its runs' leases (see run-repository.ts) for another `leaseMs`. Returns, for the
 * worker to stop, the runs whose team asked to cancel and those that no longer hold their lease.
 */
export async function recordHeartbeat(
  db: Db,
  worker: WorkerIdentity,
  running: readonly RunLease[],
  leaseMs: number,
  now = new Date(),
): Promise<{ cancelled: string[]; lost: RunLease[] }> {
  await db.workerHeartbeat.upsert({
    where: { name: worker.name },
    create: { ...worker, running: running.length, lastSeenAt: now },
    update: {
      host: worker.host,
      pid: worker.pid,
      concurrency: worker.concurrency,
      startedAt: worker.startedAt,
      ...(worker.limits === undefined ? {} : { limits: worker.limits }),
      runtimeImageId: worker.runtimeImageId ?? null,
      running: running.length,
      lastSeenAt: now,
    },
  });
  const { held, cancelRequested } = await renewLeases(db, running, leaseMs);
  return { cancelled: cancelRequested, lost: running.filter((l) => !held.has(l.token)) };
}

/** The states of the given submissions, by id; ids of no submission are absent. */
export async function submissionStates(
  db: Db,
  ids: readonly string[],
): Promise<Map<string, SubmissionState>> {
  const rows = await db.submission.findMany({
    where: { id: { in: [...ids] } },
    select: { id: true, state: true },
  });
  return new Map(rows.map((r) => [r.id, r.state]));
}

/** A worker that stops cleanly takes its row away; a crashed one's row goes stale instead. */
export async function removeHeartbeat(db: Db, name: string): Promise<void> {
  await db.workerHeartbeat.deleteMany({ where: { name } });
}

/** Every worker's heartbeat row, live or stale, by host and name (organizers). */
export async function listWorkerHeartbeats(db: Db) {
  return db.workerHeartbeat.findMany({ orderBy: [{ host: "asc" }, { name: "asc" }] });
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
  teamId: string;
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
      teamId: true,
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
 * Runs `fn` holding the named lock, waiting for any other process that holds it (a
 * transaction-scoped advisory lock: released even if this process dies). `fn` may use `db` freely;
 * the transaction exists only to hold the lock.
 */
export async function withLock<T>(
  db: Db,
  key: string,
  fn: () => Promise<T>,
  timeoutMs = 120_000,
): Promise<T> {
  return db.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${key}))`;
      return fn();
    },
    { maxWait: 10_000, timeout: timeoutMs },
  );
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
