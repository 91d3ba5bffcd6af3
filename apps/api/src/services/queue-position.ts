import type { QueueEstimate } from "@holdout/contracts/http";
import { readQueueActivity, readQueueLine, type Db } from "@holdout/db";

export const NOT_QUEUED: QueueEstimate = { position: null, estimatedStartAt: null };

/** A worker whose heartbeat is older than this is not counted as taking work. */
export const LIVE_WORKER_MS = 60_000;
/** How many recent runs the typical run time is the median of. */
const RECENT_RUNS = 20;

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface QueueFacts {
  /** Parallel runs the live workers take (sum of their concurrency). */
  slots: number;
  /** Runs of this competition in progress (running or scoring). */
  running: number;
  /** Median duration of recent finished runs, or null without history. */
  typicalRunMs: number | null;
  /** When the queue last moved: the latest start or end of a run of this competition. */
  movedAt: Date | null;
}

/**
 * When the submission at `position` (1 = next) should start, counted from `since` (when the picture
 * last changed): every run ahead of it (those in progress, then those queued before it) takes a slot
 * for a typical run time, in waves of `slots`. Null when nothing can be promised (no live worker, or
 * no run finished yet to learn from).
 */
export function estimateStart(
  position: number,
  facts: Pick<QueueFacts, "slots" | "running" | "typicalRunMs">,
  since: Date,
): Date | null {
  if (facts.slots <= 0 || facts.typicalRunMs === null) return null;
  const ahead = facts.running + position - 1;
  const waves = ahead < facts.slots ? 0 : Math.floor((ahead - facts.slots) / facts.slots) + 1;
  return new Date(since.getTime() + waves * facts.typicalRunMs);
}

/**
 * The moment a queued submission's estimate counts from: when it was queued or when the queue last
 * moved (a run started or ended), whichever is later. Not the clock: an estimate that counted from
 * "now" slid forward every second and never settled; this one changes only when something does. A
 * run that takes longer than the typical one can leave it in the past, until that run ends.
 */
export function estimateSince(queuedAt: Date | null, facts: QueueFacts, now: Date): Date {
  const times = [queuedAt, facts.movedAt].filter((t): t is Date => t !== null).map((t) => t.getTime());
  return times.length > 0 ? new Date(Math.max(...times)) : now;
}

/** What the estimate is built from. */
export async function queueFacts(db: Db, competitionId: string, now = new Date()): Promise<QueueFacts> {
  const activity = await readQueueActivity(db, competitionId, {
    liveSince: new Date(now.getTime() - LIVE_WORKER_MS),
    recentRuns: RECENT_RUNS,
  });
  const durations = activity.recentRuns
    .map((r) => r.finishedAt.getTime() - r.startedAt.getTime())
    .filter((ms) => ms >= 0);
  const ends = [activity.lastStartedAt, activity.lastFinishedAt].filter((t): t is Date => t !== null);
  return {
    slots: activity.liveWorkerConcurrency.reduce((sum, c) => sum + Math.max(0, c), 0),
    running: activity.running,
    typicalRunMs: median(durations),
    movedAt: ends.length > 0 ? new Date(Math.max(...ends.map((t) => t.getTime()))) : null,
  };
}

/**
 * The queued submissions in the order the fair share of the queue runs them (docs/architecture.md,
 * "Fair shares"): round by round, each team's next one, a team's round counting its runs in
 * progress, so a team whose run is going on comes after the teams that only wait; within a round,
 * by the time each entered the queue. `queued` is in that time order. The worker's order also
 * shares the runs among competitions; within one it is this.
 */
export function fairOrder<T extends { teamId: string }>(queued: T[], runningTeams: string[]): T[] {
  const rounds = new Map<string, number>();
  for (const team of runningTeams) rounds.set(team, (rounds.get(team) ?? 0) + 1);
  const ranked = queued.map((s, arrival) => {
    const round = (rounds.get(s.teamId) ?? 0) + 1;
    rounds.set(s.teamId, round);
    return { s, round, arrival };
  });
  ranked.sort((a, b) => a.round - b.round || a.arrival - b.arrival);
  return ranked.map((r) => r.s);
}

/**
 * Queue position (1-based, in the fair order) and estimated start of every queued submission of
 * the competition; those not in the map are not queued.
 */
export async function queueEstimates(
  db: Db,
  competitionId: string,
  now = new Date(),
): Promise<Map<string, QueueEstimate>> {
  const line = await readQueueLine(db, competitionId);
  const queued = fairOrder(line.queued, line.runningTeams);
  const out = new Map<string, QueueEstimate>();
  if (queued.length === 0) return out;
  const facts = await queueFacts(db, competitionId, now);
  queued.forEach((s, i) => {
    const at = estimateStart(i + 1, facts, estimateSince(s.queuedAt, facts, now));
    out.set(s.id, { position: i + 1, estimatedStartAt: at?.toISOString() ?? null });
  });
  return out;
}

/** The estimate of one submission (GET /api/v1/submissions/:id). */
export async function queueEstimateOf(
  db: Db,
  s: { id: string; competitionId: string; state: string; queuedAt: Date | null },
  now = new Date(),
): Promise<QueueEstimate> {
  if (s.state !== "queued") return NOT_QUEUED;
  const line = await readQueueLine(db, s.competitionId);
  const ahead = fairOrder(line.queued, line.runningTeams).findIndex((q) => q.id === s.id);
  // Not in the line read just now: it has left the queue since its state was read.
  if (ahead < 0) return NOT_QUEUED;
  const position = ahead + 1;
  const facts = await queueFacts(db, s.competitionId, now);
  const at = estimateStart(position, facts, estimateSince(s.queuedAt, facts, now));
  return { position, estimatedStartAt: at?.toISOString() ?? null };
}
