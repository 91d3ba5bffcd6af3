import { markFailed, type Db } from "@holdout/db";
import type { DiskSpace } from "../engine/disk-space.ts";
import type { Logger } from "../logger.ts";
import type { WorkerMetrics } from "../runtime/metrics.ts";

/** A submission put back for want of disk space comes back after this long (to any worker). */
const DISK_RETRY_MS = 60_000;

/** How long a job has been waiting for a worker with room, as its payload says. */
export interface SpaceWait {
  /** When it was first put back for want of space, of the shortages in a row; undefined: never. */
  since: number | undefined;
  /** The check passed: forget the wait, so a later shortage (a retry) starts a new one. */
  end(): Promise<void>;
}

export interface RoomDeps {
  db: Db;
  disk: Pick<DiskSpace, "shortfall"> | null;
  /** HOLDOUT_DISK_WAIT_SECONDS, in ms: the longest a submission waits for room before it fails. */
  diskWaitMs: number;
  workerName: string;
  metrics?: Pick<WorkerMetrics, "deferredForSpace">;
}

/** Room to start; or wait (back to the queue until then, no attempt used); or the wait is over. */
export type RoomCheck = { kind: "room" } | { kind: "wait"; until: Date; since: number } | { kind: "failed" };

/**
 * Checked before the run starts (nothing is counted or charged yet): a host short of disk space is
 * the host's fault, and another worker, or this one later, may have room, so the submission goes
 * back to the queue uncharged. Not for ever: an upload larger than any worker's free space would
 * never start, so past `diskWaitMs` it fails as `infrastructure` (refunded), saying why in words a
 * team understands. Only while no run holds the submission: one that does decides its end itself.
 */
export async function checkRoom(
  deps: RoomDeps,
  job: { submissionId: string; log: Logger; spaceWait?: SpaceWait | undefined },
  loadBytes: number,
): Promise<RoomCheck> {
  const short = await deps.disk?.shortfall(loadBytes);
  const since = job.spaceWait?.since;
  if (!short) {
    if (since !== undefined) await job.spaceWait?.end();
    return { kind: "room" };
  }
  const now = Date.now();
  const deadline = (since ?? now) + deps.diskWaitMs;
  if (since !== undefined && now >= deadline) {
    const failed = await markFailed(
      deps.db,
      job.submissionId,
      "infrastructure",
      `no worker had room for this upload for ${inWords(deps.diskWaitMs)}; it is not charged to your team`,
      deps.workerName,
      { holder: "unheld", detail: short },
    );
    if (failed) {
      job.log.warn(
        { problem: short, waitedMs: now - since },
        "gave up waiting for free disk space: failed as infrastructure, uncharged",
      );
      return { kind: "failed" };
    }
    // Another run holds it, or it has ended: starting the run says which, and acts on it.
    return { kind: "room" };
  }
  job.log.warn({ problem: short }, "not starting: too little free disk space; back to the queue, uncharged");
  deps.metrics?.deferredForSpace();
  // Back by the deadline at the latest, so the wait is not overrun by a whole retry interval.
  return { kind: "wait", until: new Date(Math.min(now + DISK_RETRY_MS, deadline)), since: since ?? now };
}

/** A wait as a team reads it: "30 minutes", "90 seconds", "2 hours". */
export function inWords(ms: number): string {
  const seconds = Math.round(ms / 1000);
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (seconds < 120 || seconds % 60 !== 0) return unit(seconds, "second");
  const minutes = seconds / 60;
  if (minutes < 120 || minutes % 60 !== 0) return unit(minutes, "minute");
  return unit(minutes / 60, "hour");
}
