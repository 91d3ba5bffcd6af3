import { listLeaderboardRows, type Db } from "@holdout/db";
import { formatAuc, formatRads, rankEntries, TASKS } from "@holdout/scorer";
import type { Leaderboard } from "../schemas.ts";

export interface CompetitionInfo {
  id: string;
  slug: string;
  name: string;
  aucFloor: number;
}

function byTaskOrder<T extends { task: string }>(tasks: T[]): T[] {
  const order = (t: string) => (TASKS as readonly string[]).indexOf(t);
  return [...tasks].sort((a, b) => order(a.task) - order(b.task));
}

/** The ranked public leaderboard: the one place ranks are computed, for HTML, JSON and CSV alike. */
export async function buildLeaderboard(db: Db, competition: CompetitionInfo): Promise<Leaderboard> {
  const rows = await listLeaderboardRows(db, competition.id);
  const ranked = rankEntries(rows);
  return {
    competition: { slug: competition.slug, name: competition.name, aucFloor: competition.aucFloor },
    generatedAt: new Date().toISOString(),
    entries: ranked.map((r) => ({
      rank: r.rank,
      submissionId: r.submissionId,
      date: r.submittedAt.toISOString(),
      team: r.teamName,
      institution: r.institution,
      model: r.modelName,
      link: r.link,
      ensemble: r.ensemble,
      meanAuc: r.meanAuc,
      meanRadsBelowCurve: r.meanRadsBelowCurve,
      score: r.score,
      display: { auc: formatAuc(r.meanAuc), rads: formatRads(r.meanRadsBelowCurve) },
      tasks: byTaskOrder(r.tasks),
    })),
  };
}
