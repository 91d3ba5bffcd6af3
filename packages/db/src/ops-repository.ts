import type { Db } from "./client.ts";

// What the operations endpoints read: whether PostgreSQL answers (readiness), and the figures the
// Prometheus metrics report, aggregated by PostgreSQL (the truth every process shares).

/** Resolves once PostgreSQL answers a trivial query; rejects (or never settles) when it cannot. */
export async function pingDatabase(db: Db): Promise<void> {
  await db.$queryRaw`SELECT 1`;
}

export interface CompetitionFigures {
  byState: { state: string; n: number }[];
  /** Finished submissions: scored, cancelled, or the failure category of a failed one. */
  byOutcome: { outcome: string; n: number }[];
  /** Run durations per final state: count, sum (s) and the cumulative count at each bucket's bound. */
  durations: { state: string; count: number; sum: number; buckets: number[] }[];
  /** Workers whose heartbeat is under two minutes old. */
  workersAlive: number;
}

/** A competition's submissions by state and outcome, its run-duration histogram, and live workers. */
export async function readCompetitionFigures(
  db: Db,
  competitionId: string,
  durationBuckets: readonly number[],
): Promise<CompetitionFigures> {
  const byState = await db.$queryRaw<{ state: string; n: number }[]>`
    SELECT state::text AS state, count(*)::int AS n FROM "Submission"
    WHERE "competitionId" = ${competitionId}::uuid GROUP BY state`;
  const byOutcome = await db.$queryRaw<{ outcome: string; n: number }[]>`
    SELECT CASE WHEN state = 'failed' THEN coalesce("failureCategory"::text, 'unknown') ELSE state::text END
             AS outcome,
           count(*)::int AS n
    FROM "Submission"
    WHERE "competitionId" = ${competitionId}::uuid AND state IN ('scored', 'failed', 'cancelled')
    GROUP BY 1`;
  // One row per final state: count, sum and the cumulative count at each bucket's upper bound.
  const durations = await db.$queryRaw<{ state: string; count: number; sum: number; buckets: number[] }[]>`
    WITH runs AS (
      SELECT state::text AS state, extract(epoch FROM ("finishedAt" - "startedAt"))::float8 AS seconds
      FROM "Submission"
      WHERE "competitionId" = ${competitionId}::uuid AND state IN ('scored', 'failed', 'cancelled')
        AND "startedAt" IS NOT NULL AND "finishedAt" IS NOT NULL),
    per_bucket AS (
      SELECT r.state, b.i, count(*) FILTER (WHERE r.seconds <= b.le)::int AS n
      FROM runs r CROSS JOIN unnest(${[...durationBuckets]}::float8[]) WITH ORDINALITY AS b(le, i)
      GROUP BY r.state, b.i),
    totals AS (
      SELECT state, count(*)::int AS count, coalesce(sum(seconds), 0)::float8 AS sum FROM runs GROUP BY state)
    SELECT t.state, t.count, t.sum, array_agg(p.n ORDER BY p.i) AS buckets
    FROM totals t JOIN per_bucket p USING (state)
    GROUP BY t.state, t.count, t.sum`;
  const [alive] = await db.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM "WorkerHeartbeat" WHERE "lastSeenAt" > now() - interval '2 minutes'`;
  return { byState, byOutcome, durations, workersAlive: alive?.n ?? 0 };
}
