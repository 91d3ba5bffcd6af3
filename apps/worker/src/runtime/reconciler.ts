import { addEvaluateJob, type EvaluateQueue } from "@holdout/contracts";
import {
  countReconcilerRequeues,
  liveWorkerNames,
  listUnfinished,
  markFailed,
  RECONCILER_REQUEUE_DETAIL,
  returnToQueue,
  withTryLock,
  type Db,
  type UnfinishedSubmission,
} from "@holdout/db";
import type { WorkerConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import { startPeriodic } from "./periodic.ts";

export interface ReconcilerOptions {
  db: Db;
  queue: EvaluateQueue;
  /** Only this competition's submissions; all when undefined. */
  competitionId: string | undefined;
  /** A running submission whose heartbeat is older than this is orphaned. */
  staleMs: number;
  maxRequeues: number;
  workerName: string;
  log: Logger;
  /** Told of each submission this pass failed (its notifications); never throws. */
  ended?: (submissionId: string) => Promise<void>;
}

export interface ReconcileReport {
  /** False when another process held the reconciler lock (it did the pass). */
  ran: boolean;
  requeued: string[];
  failed: string[];
}

/** A queued row gets this long for its job to appear (the API marks it queued just before adding). */
const QUEUED_GRACE_MS = 10_000;
/** A received row is complete on disk; the API queues it right after recording it. Past this, the
 * API died (or Redis was down) in between, and the row would wait for ever. */
const RECEIVED_GRACE_MS = 30_000;
/** Job states in which BullMQ will still deliver the job to a worker. */
const PENDING = new Set(["waiting", "delayed", "prioritized", "waiting-children"]);

/**
 * Postgres is the truth and Redis only carries work: this pass finds submissions that Postgres says
 * are queued, running or scoring but that no worker will finish, and puts them back in the queue (job
 * id = submission id, so a duplicate cannot arise), or fails them as `infrastructure` (refunded) once
 * they were re-queued `maxRequeues` times. Orphaned means:
 * - received for longer than a short grace (the API recorded the upload, then died or could not reach
 *   Redis before queueing it);
 * - queued, with no pending or active job (Redis lost it, or the API died between the two writes);
 * - running or scoring, with a stale heartbeat (its worker died or lost the database) and no job that
 *   BullMQ itself will hand to a worker again (a pending job, or an active one whose lock BullMQ's
 *   stalled check will reclaim).
 * One pass at a time across all workers (a transaction-scoped advisory lock); each change is also a
 * conditional update, so a row that moved on meanwhile is left alone, and so is a row whose run's
 * lease is live by the database's clock (the stale heartbeat was only this worker's reading): the
 * reconciler never puts back work that a run still holds, whatever BullMQ did with its job.
 */
export async function reconcileOnce(opts: ReconcilerOptions): Promise<ReconcileReport> {
  const report: ReconcileReport = { ran: false, requeued: [], failed: [] };
  const key = `holdout:reconciler:${opts.queue.opts.prefix ?? "bull"}:${opts.competitionId ?? "*"}`;
  await withTryLock(opts.db, key, async () => {
    report.ran = true;
    const now = Date.now();
    const live = await liveWorkerNames(opts.db, new Date(now - opts.staleMs));
    for (const row of await listUnfinished(opts.db, opts.competitionId)) {
      const why = await orphaned(opts, row, live, now);
      if (why !== null) await recover(opts, row, why, report);
    }
  });
  return report;
}

async function orphaned(
  opts: ReconcilerOptions,
  row: UnfinishedSubmission,
  live: Set<string>,
  now: number,
): Promise<string | null> {
  const job = await opts.queue.getJob(row.id);
  const state = job ? await job.getState() : "missing";
  if (PENDING.has(state)) return null;
  if (row.state === "received") {
    if (state === "active" || row.createdAt.getTime() > now - RECEIVED_GRACE_MS) return null;
    return "it was received but never queued";
  }
  if (row.state === "queued") {
    if (state === "active") return null;
    if ((row.queuedAt ?? row.createdAt).getTime() > now - QUEUED_GRACE_MS) return null;
    return `its job was ${state === "missing" ? "missing from" : `${state} in`} the queue`;
  }
  // A worker beats for each of its runs every few seconds: a stale beat means nobody runs it.
  const beat = (row.heartbeatAt ?? row.startedAt ?? row.createdAt).getTime();
  if (beat >= now - opts.staleMs) return null;
  // An active job of a dead worker: BullMQ's stalled check moves it back to the wait list.
  if (state === "active") return null;
  const worker = row.worker ?? "(unknown)";
  return row.worker !== null && live.has(row.worker)
    ? `worker ${worker} is alive but no longer runs it`
    : `worker ${worker} stopped sending heartbeats during the run`;
}

async function recover(
  opts: ReconcilerOptions,
  row: UnfinishedSubmission,
  why: string,
  report: ReconcileReport,
): Promise<void> {
  const log = opts.log.child({ submissionId: row.id });
  const requeues = await countReconcilerRequeues(opts.db, row.id);
  if (requeues >= opts.maxRequeues) {
    const failed = await markFailed(
      opts.db,
      row.id,
      "infrastructure",
      `the evaluation could not be completed (${why}, after ${requeues} re-queues); it is not charged to your team`,
      opts.workerName,
      { holder: "unheld" },
    );
    if (!failed) return;
    report.failed.push(row.id);
    log.warn({ why, requeues }, "reconciler failed an orphaned submission as infrastructure");
    await opts.ended?.(row.id);
    return;
  }
  const moved = await returnToQueue(opts.db, row.id, {
    from: [row.state],
    holder: "unheld",
    worker: opts.workerName,
    detail: `${RECONCILER_REQUEUE_DETAIL}: ${why}`,
  });
  if (!moved) return;
  // A finished job under the same id would make the add a no-op: remove it first. A job that a
  // worker has taken since it was looked at is locked and stays: that worker starts the run.
  if ((await opts.queue.getJob(row.id)) && (await opts.queue.remove(row.id)) !== 1) {
    log.info({ why }, "reconciler left the submission to the worker that has just taken its job");
    return;
  }
  // The turn it was given when first queued, if Redis still has it: its place, not the back.
  await addEvaluateJob(
    opts.queue,
    { competitionId: row.competitionId, teamId: row.teamId, submissionId: row.id },
    (err) => log.warn({ err }, "re-queued, but its fair-share turn is not marked added"),
  );
  report.requeued.push(row.id);
  log.warn({ why, requeues: requeues + 1 }, "reconciler re-queued an orphaned submission");
}

/** Runs reconcileOnce every `intervalMs` (never overlapping itself) until stopped. */
export function startReconciler(opts: ReconcilerOptions, intervalMs: number): { stop(): Promise<void> } {
  return startPeriodic(
    async () => {
      const r = await reconcileOnce(opts);
      if (r.requeued.length + r.failed.length > 0) opts.log.info(r, "reconciler pass");
    },
    intervalMs,
    (err) => opts.log.warn({ err }, "reconciler pass failed; trying again at the next one"),
  );
}

/** This worker's reconciler, as configured (a pass every HOLDOUT_RECONCILE_INTERVAL_SECONDS). */
export function reconcilerFor(
  config: WorkerConfig,
  parts: Pick<ReconcilerOptions, "db" | "queue" | "competitionId" | "log" | "ended">,
): { stop(): Promise<void> } {
  return startReconciler(
    {
      ...parts,
      staleMs: config.HOLDOUT_HEARTBEAT_STALE_SECONDS * 1000,
      maxRequeues: config.HOLDOUT_RECONCILE_MAX_REQUEUES,
      workerName: config.HOLDOUT_WORKER_NAME,
    },
    config.HOLDOUT_RECONCILE_INTERVAL_SECONDS * 1000,
  );
}
