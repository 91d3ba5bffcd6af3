import type { Db } from "./client.ts";
import { Prisma } from "./generated/prisma/client.ts";

/**
 * The listed entries of a competition on the whole test set, as a query: made in a ranked phase (a
 * development phase's scores, on public data, are never ranked beside the hidden set's unless the
 * organizer said so), scored, not hidden, not disqualified, not withheld by the ladder, at or above the AUC floor (the API's listedOnBoard is
 * the same rule for a single submission, on the scores its board ranks on).
 */
export function listedWhere(
  competitionId: string,
  aucFloor: number,
  phaseId?: string,
): Prisma.SubmissionWhereInput {
  return {
    competitionId,
    ...(phaseId === undefined ? {} : { phaseId }),
    phase: { ranked: true },
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

/** One listed entry as the board's queries return it (full precision, JSON from PostgreSQL). */
export interface ListedEntry {
  id: string;
  modelName: string;
  link: string | null;
  ensemble: boolean;
  meanAuc: number | null;
  meanAucLo: number | null;
  meanAucHi: number | null;
  meanRadsBelowCurve: number | null;
  tiedWithLeader: boolean | null;
  /** ISO 8601, as PostgreSQL writes a timestamp into JSON. */
  createdAt: string;
  teamName: string;
  institution: string | null;
  /** An organizer's baseline entry: ranked like any, never the leader for tie marks. */
  baseline: boolean;
  /** An audit found its test set changed since it was scored, and it has not been re-scored. */
  earlierTestset: boolean;
  /** Whole-set rows: [task, auc, aucLo, aucHi, radsBelowCurve]; part rows: the stored task objects. */
  tasks: unknown;
}

/** Which competition a board is of, and its listing floor; with a phase, that phase's entries only. */
export interface BoardOf {
  id: string;
  aucFloor: number;
  phaseId?: string;
}

/** Whether an audit marked the score as made on an earlier version of its test set (provenance). */
const EARLIER_TESTSET = Prisma.sql`EXISTS (SELECT 1 FROM "ScoreProvenance" pv
  WHERE pv."submissionId" = s.id AND pv."testsetChangedAt" IS NOT NULL) AS "earlierTestset"`;

const inPhase = (board: BoardOf) =>
  board.phaseId === undefined ? Prisma.empty : Prisma.sql`AND s."phaseId" = ${board.phaseId}::uuid`;

/**
 * Listed entries with their task results, built by PostgreSQL as one JSON document in one round
 * trip. The page must answer in 50 ms with 1,000 entries (bench/leaderboard-page.ts): the ORM's
 * relation loading (a second query, then 6,000 objects mapped one by one) took several times
 * that. The listing rule of listedWhere, ordered as LEADERBOARD_ORDER; entries the ladder
 * withheld are never listed.
 */
export async function listBoardEntries(db: Db, competition: BoardOf): Promise<ListedEntry[]> {
  const [row] = await db.$queryRaw<{ entries: string }[]>`
    SELECT coalesce(json_agg(e ORDER BY e.score DESC, e."createdAt" ASC), '[]'::json)::text AS entries
    FROM (
      SELECT s.id, s."modelName", s.link, s.ensemble, s."meanAuc", s."meanAucLo", s."meanAucHi",
             s."meanRadsBelowCurve", s.score, s."tiedWithLeader", s."createdAt",
             t.name AS "teamName", t.institution, t.baseline, ${EARLIER_TESTSET},
             coalesce((SELECT json_agg(json_build_array(r.task, r.auc, r."aucLo", r."aucHi", r."radsBelowCurve"))
                       FROM "TaskResult" r WHERE r."submissionId" = s.id), '[]'::json) AS tasks
      FROM "Submission" s JOIN "Team" t ON t.id = s."teamId"
      JOIN "Phase" ph ON ph.id = s."phaseId" AND ph.ranked
      WHERE s."competitionId" = ${competition.id}::uuid ${inPhase(competition)}
        AND s.state = 'scored' AND NOT s.hidden AND NOT s.disqualified
        AND s."ladderImproved" IS DISTINCT FROM false
        AND s."meanAuc" >= ${competition.aucFloor}
    ) e`;
  return JSON.parse(row?.entries ?? "[]") as ListedEntry[];
}

/** The same on one part of a split test set; the private board holds the teams' finals only. */
export async function listPartBoardEntries(
  db: Db,
  competition: BoardOf,
  part: "public" | "private",
): Promise<ListedEntry[]> {
  const finalsOnly = part === "private";
  const [row] = await db.$queryRaw<{ entries: string }[]>`
    SELECT coalesce(json_agg(e ORDER BY e.score DESC, e."createdAt" ASC), '[]'::json)::text AS entries
    FROM (
      SELECT s.id, s."modelName", s.link, s.ensemble, p."meanAuc", p."meanAucLo", p."meanAucHi",
             p."meanRadsBelowCurve", p.score, p."tiedWithLeader", s."createdAt",
             t.name AS "teamName", t.institution, t.baseline, ${EARLIER_TESTSET}, p.tasks
      FROM "Submission" s JOIN "Team" t ON t.id = s."teamId"
      JOIN "SubmissionPartScore" p ON p."submissionId" = s.id AND p.part = ${part}::"ScorePart"
      JOIN "Phase" ph ON ph.id = s."phaseId" AND ph.ranked
      WHERE s."competitionId" = ${competition.id}::uuid ${inPhase(competition)}
        AND s.state = 'scored' AND NOT s.hidden AND NOT s.disqualified
        AND s."ladderImproved" IS DISTINCT FROM false
        AND (NOT ${finalsOnly} OR s."selectedFinal")
        AND p."meanAuc" >= ${competition.aucFloor}
    ) e`;
  return JSON.parse(row?.entries ?? "[]") as ListedEntry[];
}

/**
 * A fingerprint of every row a competition's board is built from: the count and the transaction
 * ids (xmin) of its scored submissions, their part scores, the provenance an audit marked (an
 * earlier test set; the mark and its removal by a re-score both change the set of marked rows), its
 * teams and the competition itself.
 * Any write to one of those rows changes its xmin, so the fingerprint changes with it.
 */
export async function leaderboardFingerprint(db: Db, competitionId: string): Promise<string> {
  const [row] = await db.$queryRaw<{ fingerprint: string }[]>`
    SELECT concat_ws(':',
      (SELECT count(*) || '/' || coalesce(sum(xmin::text::bigint), 0) || '/' || coalesce(max(xmin::text::bigint), 0)
         FROM "Submission" WHERE "competitionId" = ${competitionId}::uuid AND state = 'scored'),
      (SELECT count(*) || '/' || coalesce(sum(p.xmin::text::bigint), 0)
         FROM "SubmissionPartScore" p JOIN "Submission" s ON s.id = p."submissionId"
         WHERE s."competitionId" = ${competitionId}::uuid),
      (SELECT count(*) || '/' || coalesce(sum(pv.xmin::text::bigint), 0)
         FROM "ScoreProvenance" pv JOIN "Submission" s ON s.id = pv."submissionId"
         WHERE pv."testsetChangedAt" IS NOT NULL AND s."competitionId" = ${competitionId}::uuid),
      (SELECT count(*) || '/' || coalesce(sum(xmin::text::bigint), 0)
         FROM "Team" WHERE "competitionId" = ${competitionId}::uuid),
      (SELECT xmin::text FROM "Competition" WHERE id = ${competitionId}::uuid)) AS fingerprint`;
  return row?.fingerprint ?? "";
}
