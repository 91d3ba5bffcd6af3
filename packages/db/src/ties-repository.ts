import type { Db } from "./client.ts";
import { LEADERBOARD_ORDER, listedWhere } from "./leaderboard-repository.ts";

export interface TieCandidate {
  id: string;
  score: number;
  meanAuc: number;
  /** Stored predictions (canonical CSV); null for entries scored before predictions were kept. */
  predictionsCsv: string | null;
}

/**
 * Recomputes `tiedWithLeader` for a competition, serialized per competition by an advisory lock held
 * for the whole read-compute-write (two workers finishing at once cannot interleave their marks).
 * `decide` receives the listed entries (scored, not hidden, not disqualified, at or above the AUC
 * floor), best first (score, then earliest), and returns the mark of each; every other submission of
 * the competition gets null (no mark). Returns the number of rows whose mark changed.
 */
export async function updateLeaderTies(
  db: Db,
  competitionId: string,
  decide: (listed: TieCandidate[]) => Map<string, boolean | null>,
): Promise<{ listed: number; changed: number }> {
  return db.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`holdout:ties:${competitionId}`}))`;
      const competition = await tx.competition.findUniqueOrThrow({ where: { id: competitionId } });
      const rows = await tx.submission.findMany({
        where: listedWhere(competitionId, competition.aucFloor),
        orderBy: LEADERBOARD_ORDER,
        select: {
          id: true,
          score: true,
          meanAuc: true,
          tiedWithLeader: true,
          predictions: { select: { csv: true } },
        },
      });
      const listed = rows.map((r) => ({
        id: r.id,
        score: r.score ?? 0,
        meanAuc: r.meanAuc ?? 0,
        predictionsCsv: r.predictions?.csv ?? null,
      }));
      const marks = decide(listed);
      let changed = 0;
      for (const r of rows) {
        const mark = marks.get(r.id) ?? null;
        if (mark === r.tiedWithLeader) continue;
        await tx.submission.update({ where: { id: r.id }, data: { tiedWithLeader: mark } });
        changed++;
      }
      // Entries no longer listed (hidden, disqualified) lose their mark.
      const cleared = await tx.submission.updateMany({
        where: { competitionId, tiedWithLeader: { not: null }, id: { notIn: rows.map((r) => r.id) } },
        data: { tiedWithLeader: null },
      });
      return { listed: rows.length, changed: changed + cleared.count };
    },
    { maxWait: 120_000, timeout: 300_000 },
  );
}
