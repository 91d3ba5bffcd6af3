import type { Db } from "./client.ts";

// The evaluation queue as teams and organizers see it: who waits in what order, and what the
// estimate of when a queued submission starts is built from. PostgreSQL is the truth here, not
// BullMQ: a submission is queued when its row says so, whichever Redis holds its job.

/**
 * A competition's queued submissions by the time each entered the queue, then by id, with their
 * teams, and the teams with a run in progress (one entry per run): what the fair order of the queue
 * is worked out from (apps/api/src/services/queue-position.ts).
 */
export async function readQueueLine(db: Db, competitionId: string) {
  const [queued, running] = await Promise.all([
    db.submission.findMany({
      where: { competitionId, state: "queued" },
      orderBy: [{ queuedAt: "asc" }, { id: "asc" }],
      select: { id: true, queuedAt: true, teamId: true },
    }),
    db.submission.findMany({
      where: { competitionId, state: { in: ["running", "scoring"] } },
      select: { teamId: true },
    }),
  ]);
  return { queued, runningTeams: running.map((r) => r.teamId) };
}

export interface QueueActivity {
  /** The concurrency of each worker seen since `liveSince`. */
  liveWorkerConcurrency: number[];
  /** Runs of the competition in progress (running or scoring). */
  running: number;
  /** The latest finished runs (scored or failed), newest first, with when each started and ended. */
  recentRuns: { startedAt: Date; finishedAt: Date }[];
  /** The latest start and the latest end of any run of the competition. */
  lastStartedAt: Date | null;
  lastFinishedAt: Date | null;
}

/** What a queue estimate is built from, read in four small queries. */
export async function readQueueActivity(
  db: Db,
  competitionId: string,
  opts: { liveSince: Date; recentRuns: number },
): Promise<QueueActivity> {
  const [workers, running, recent, moved] = await Promise.all([
    db.workerHeartbeat.findMany({
      where: { lastSeenAt: { gt: opts.liveSince } },
      select: { concurrency: true },
    }),
    db.submission.count({ where: { competitionId, state: { in: ["running", "scoring"] } } }),
    db.submission.findMany({
      where: {
        competitionId,
        state: { in: ["scored", "failed"] },
        startedAt: { not: null },
        finishedAt: { not: null },
      },
      orderBy: { finishedAt: "desc" },
      take: opts.recentRuns,
      select: { startedAt: true, finishedAt: true },
    }),
    db.submission.aggregate({ where: { competitionId }, _max: { startedAt: true, finishedAt: true } }),
  ]);
  return {
    liveWorkerConcurrency: workers.map((w) => w.concurrency),
    running,
    // Both are set: the query asks for rows where they are not null.
    recentRuns: recent.map((r) => ({ startedAt: r.startedAt!, finishedAt: r.finishedAt! })),
    lastStartedAt: moved._max.startedAt,
    lastFinishedAt: moved._max.finishedAt,
  };
}

const UNFINISHED = ["received", "queued", "running", "scoring"] as const;

/** Every submission of a competition not yet final, in queue order (never queued last), with its team. */
export async function listUnfinishedForOrganizers(db: Db, competitionId: string) {
  return db.submission.findMany({
    where: { competitionId, state: { in: [...UNFINISHED] } },
    orderBy: [{ queuedAt: { sort: "asc", nulls: "last" } }, { createdAt: "asc" }],
    select: {
      id: true,
      state: true,
      modelName: true,
      kind: true,
      createdAt: true,
      queuedAt: true,
      startedAt: true,
      worker: true,
      heartbeatAt: true,
      attempts: true,
      cancelRequestedAt: true,
      team: { select: { id: true, name: true } },
    },
  });
}
