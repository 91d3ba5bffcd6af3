import type { Db } from "./client.ts";
import type { Prisma } from "./generated/prisma/client.ts";

export interface LeaderboardRow {
  submissionId: string;
  teamName: string;
  institution: string | null;
  modelName: string;
  link: string | null;
  ensemble: boolean;
  meanAuc: number;
  meanRadsBelowCurve: number;
  submittedAt: Date;
  scoredAt: Date | null;
  tasks: { task: string; auc: number; radsBelowCurve: number }[];
}

/**
 * The listed entries of a competition on the whole test set, as a query: scored, not hidden, not
 * disqualified, not withheld by the ladder, at or above the AUC floor (the API's listedOnBoard is
 * the same rule for a single submission, on the scores its board ranks on).
 */
export function listedWhere(competitionId: string, aucFloor: number): Prisma.SubmissionWhereInput {
  return {
    competitionId,
    state: "scored",
    hidden: false,
    disqualified: false,
    OR: [{ ladderImproved: null }, { ladderImproved: true }],
    ...(aucFloor === -Infinity ? {} : { meanAuc: { gte: aucFloor } }),
  };
}

/** Leaderboard order: best score first; equal scores by who submitted first. */
export const LEADERBOARD_ORDER: Prisma.SubmissionOrderByWithRelationInput[] = [
  { score: "desc" },
  { createdAt: "asc" },
];

/** Public leaderboard entries: scored, not hidden, at or above the competition's AUC floor. */
export async function listLeaderboardRows(db: Db, competitionId: string): Promise<LeaderboardRow[]> {
  const competition = await db.competition.findUniqueOrThrow({ where: { id: competitionId } });
  const rows = await db.submission.findMany({
    where: listedWhere(competitionId, competition.aucFloor),
    orderBy: LEADERBOARD_ORDER,
    include: {
      team: { select: { name: true, institution: true } },
      results: { select: { task: true, auc: true, radsBelowCurve: true } },
    },
  });
  return rows.map((r) => ({
    submissionId: r.id,
    teamName: r.team.name,
    institution: r.team.institution,
    modelName: r.modelName,
    link: r.link,
    ensemble: r.ensemble,
    // A scored row always has its means: recordScore writes them with the state.
    meanAuc: r.meanAuc ?? 0,
    meanRadsBelowCurve: r.meanRadsBelowCurve ?? 0,
    submittedAt: r.createdAt,
    scoredAt: r.finishedAt,
    tasks: r.results,
  }));
}
