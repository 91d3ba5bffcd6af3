import type { Queue } from "bullmq";
import { leaderTiesJobOptions, QUEUE_LEADER_TIES } from "@holdout/contracts";
import { closeEndedCompetitions, type Db } from "@holdout/db";
import type { WorkerConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import { startPeriodic } from "./periodic.ts";

export interface ScheduleOptions {
  db: Db;
  tiesQueue: Queue;
  log: Logger;
  /** The slugs of the competitions this worker serves; undefined: every one. */
  only?: readonly string[];
}

/**
 * One pass of the competitions' schedule: every open competition whose last phase has ended is
 * closed as of that end, as an organizer's closing would (docs/architecture.md, "Competitions and
 * phases"), and with a split its final board's tie marks are asked for. Every worker runs it; a
 * competition another worker closed meanwhile is skipped. Returns the slugs it closed.
 */
export async function closeOnSchedule(opts: ScheduleOptions, now = new Date()): Promise<string[]> {
  const closed = await closeEndedCompetitions(opts.db, now, opts.only);
  for (const c of closed) {
    opts.log.info({ competition: c.slug, closedAt: c.closedAt }, "competition closed: its last phase ended");
    if (!c.split) continue;
    await opts.tiesQueue.add(
      QUEUE_LEADER_TIES,
      { competitionId: c.competitionId, reason: "the competition closed: its last phase ended" },
      leaderTiesJobOptions(c.competitionId),
    );
  }
  return closed.map((c) => c.slug);
}

/**
 * The schedule of the competitions this worker serves, checked at every reconciler interval
 * (HOLDOUT_RECONCILE_INTERVAL_SECONDS); nothing when HOLDOUT_CLOSE_ENDED_COMPETITIONS is off.
 */
export function scheduleFor(
  config: WorkerConfig,
  opts: Omit<ScheduleOptions, "only">,
): { stop(): Promise<void> } {
  if (!config.HOLDOUT_CLOSE_ENDED_COMPETITIONS) return { stop: () => Promise.resolve() };
  const only = config.HOLDOUT_WORKER_COMPETITIONS;
  return startPeriodic(
    async () => void (await closeOnSchedule({ ...opts, ...(only ? { only } : {}) })),
    config.HOLDOUT_RECONCILE_INTERVAL_SECONDS * 1000,
    (err) => opts.log.warn({ err }, "closing ended competitions failed; trying again at the next pass"),
  );
}
