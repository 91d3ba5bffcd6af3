import { currentPhaseAt, teamNameKey, type Db } from "@holdout/db";
import { TASKS } from "@holdout/scorer";

// Bulk fixtures for the leaderboard benches: thousands of scored entries written straight into
// PostgreSQL, as no route could make them in useful time. Setup only, like the tests' own seeding;
// what the benches then measure goes through the API and packages/db like everything else.

/** Rows per INSERT: a createMany over PostgreSQL's 32,767 bind parameters is split by Prisma into
 * statements sent at once on one connection, which pg queues with a deprecation warning. */
const BATCH = 500;

export interface SeededEntry {
  id: string;
  competitionId: string;
  teamId: string;
  modelName: string;
  link?: string | null;
  ensemble?: boolean;
  meanAuc: number;
  meanRadsBelowCurve: number;
  tiedWithLeader?: boolean | null;
  createdAt: Date;
  finishedAt?: Date | null;
}

/** Teams without credentials, as an organizer could create them. */
export async function seedTeams(
  db: Db,
  competitionId: string,
  teams: { id: string; name: string; institution: string | null }[],
): Promise<void> {
  for (let from = 0; from < teams.length; from += BATCH) {
    await db.team.createMany({
      data: teams
        .slice(from, from + BATCH)
        .map((t) => ({ ...t, competitionId, nameKey: teamNameKey(t.name) })),
    });
  }
}

/**
 * Scored submissions with their five task results: score from the means as the official rule sets
 * it, an interval of ±0.02 around the mean AUC, and per-task figures spread around it.
 */
export async function seedScoredEntries(db: Db, entries: SeededEntry[]): Promise<void> {
  // Each entry joins the phase its competition is in now.
  const phases = new Map<string, string>();
  for (const competitionId of new Set(entries.map((e) => e.competitionId))) {
    phases.set(competitionId, (await currentPhaseAt(db, competitionId, new Date())).id);
  }
  for (let from = 0; from < entries.length; from += BATCH) {
    const rows = entries.slice(from, from + BATCH).map((e) => ({
      ...e,
      phaseId: phases.get(e.competitionId)!,
      uploadSize: 1n,
      uploadSha256: "0".repeat(64),
      state: "scored" as const,
      score: e.meanAuc + 0.001 * e.meanRadsBelowCurve,
      meanAucLo: e.meanAuc - 0.02,
      meanAucHi: e.meanAuc + 0.02,
    }));
    await db.submission.createMany({ data: rows });
    await db.taskResult.createMany({
      data: rows.flatMap((r) =>
        TASKS.map((task, t) => ({
          submissionId: r.id,
          task,
          auc: r.meanAuc + (t - 2) * 0.005,
          aucLo: r.meanAuc - 0.03,
          aucHi: r.meanAuc + 0.03,
          radsBelowCurve: t % 4,
          roc: [
            [0, 0],
            [1, 1],
          ],
        })),
      ),
    });
  }
}

/** As autovacuum would after a bulk load: the planner needs the new row counts. */
export async function analyzeSeededTables(db: Db): Promise<void> {
  await db.$executeRawUnsafe('ANALYZE "Submission", "TaskResult", "Team"');
}
