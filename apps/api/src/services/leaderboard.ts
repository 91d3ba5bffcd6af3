import { createHash } from "node:crypto";
import { Type, type Static } from "typebox";
import { LEADERBOARD_ORDER, listedWhere, type Db } from "@holdout/db";
import { formatAuc, formatRads, rankEntries, TASKS } from "@holdout/scorer";
import { Interval, LeaderboardEntrySchema, LeaderboardSchema, ScoredTaskSchema } from "../schemas.ts";
import { coalesced } from "./coalesce.ts";

export interface CompetitionInfo {
  id: string;
  slug: string;
  name: string;
  aucFloor: number;
}

// The public contract (schemas.ts) plus the uncertainty the scorer measures: the 95% bootstrap
// interval of each AUC and whether the entry is statistically tied with the leader. Additive only:
// clients of the original fields see them unchanged.
export const LeaderboardTaskSchema = ScoredTaskSchema;

export const RankedEntrySchema = Type.Object({
  ...LeaderboardEntrySchema.properties,
  meanAuc95: Interval,
  tiedWithLeader: Type.Union([Type.Boolean(), Type.Null()], {
    description:
      "a paired bootstrap comparison (5% level) cannot tell this entry from the leader; null until computed",
  }),
  display: Type.Object({
    auc: Type.String(),
    rads: Type.String(),
    auc95: Type.Union([Type.String(), Type.Null()]),
  }),
  tasks: Type.Array(LeaderboardTaskSchema),
});

export const RankedLeaderboardSchema = Type.Object({
  ...LeaderboardSchema.properties,
  entries: Type.Array(RankedEntrySchema),
});
export type RankedLeaderboard = Static<typeof RankedLeaderboardSchema>;
export type RankedLeaderboardEntry = Static<typeof RankedEntrySchema>;

type Interval95 = [number, number] | null;

/** A stored [lo, hi] pair as the API shows it: null unless both ends are known. */
export function interval(lo: number | null, hi: number | null): Interval95 {
  return lo === null || hi === null ? null : [lo, hi];
}

/** "0.891–0.925": both ends at the precision the AUC itself is shown with. */
export function formatInterval(ci: Interval95): string | null {
  return ci ? `${formatAuc(ci[0])}–${formatAuc(ci[1])}` : null;
}

const TASK_ORDER = new Map<string, number>(TASKS.map((t, i) => [t, i]));

/** The listed entries (packages/db's listing rule), in rank order (equal scores: earliest first). */
function listed(competition: CompetitionInfo) {
  return { where: listedWhere(competition.id, competition.aucFloor), orderBy: LEADERBOARD_ORDER };
}

/** The first-ranked entry's id, or null on an empty board. */
export async function findLeaderId(db: Db, competition: CompetitionInfo): Promise<string | null> {
  const top = await db.submission.findFirst({ ...listed(competition), select: { id: true } });
  return top?.id ?? null;
}

/** One listed entry as the query below returns it. */
interface ListedRow {
  id: string;
  modelName: string;
  link: string | null;
  ensemble: boolean;
  meanAuc: number | null;
  meanAucLo: number | null;
  meanAucHi: number | null;
  meanRadsBelowCurve: number | null;
  tiedWithLeader: boolean | null;
  createdAt: string;
  teamName: string;
  institution: string | null;
  /** [task, auc, aucLo, aucHi, radsBelowCurve] */
  tasks: [string, number, number | null, number | null, number][];
}

/**
 * Listed entries with their task results, built by PostgreSQL as one JSON document in one round
 * trip. The page must answer in 50 ms with 1,000 entries (bench/leaderboard-page.ts): the ORM's
 * relation loading (a second query, then 6,000 objects mapped one by one) took several times
 * that. The same listing rule and order as listed() above.
 */
async function listedRows(db: Db, competition: CompetitionInfo): Promise<ListedRow[]> {
  const [row] = await db.$queryRaw<{ entries: string }[]>`
    SELECT coalesce(json_agg(e ORDER BY e.score DESC, e."createdAt" ASC), '[]'::json)::text AS entries
    FROM (
      SELECT s.id, s."modelName", s.link, s.ensemble, s."meanAuc", s."meanAucLo", s."meanAucHi",
             s."meanRadsBelowCurve", s.score, s."tiedWithLeader", s."createdAt",
             t.name AS "teamName", t.institution,
             coalesce((SELECT json_agg(json_build_array(r.task, r.auc, r."aucLo", r."aucHi", r."radsBelowCurve"))
                       FROM "TaskResult" r WHERE r."submissionId" = s.id), '[]'::json) AS tasks
      FROM "Submission" s JOIN "Team" t ON t.id = s."teamId"
      WHERE s."competitionId" = ${competition.id}::uuid
        AND s.state = 'scored' AND NOT s.hidden AND NOT s.disqualified
        AND s."meanAuc" >= ${competition.aucFloor}
    ) e`;
  return JSON.parse(row?.entries ?? "[]") as ListedRow[];
}

/** The ranked public leaderboard: the one place ranks are computed, for HTML, JSON and CSV alike. */
export async function buildLeaderboard(db: Db, competition: CompetitionInfo): Promise<RankedLeaderboard> {
  const rows = await listedRows(db, competition);
  const ranked = rankEntries(
    // A scored row always has its means: the worker writes them with the state.
    rows.map((r) => ({ ...r, meanAuc: r.meanAuc ?? 0, meanRadsBelowCurve: r.meanRadsBelowCurve ?? 0 })),
  );
  return {
    competition: { slug: competition.slug, name: competition.name, aucFloor: competition.aucFloor },
    generatedAt: new Date().toISOString(),
    entries: ranked.map((r) => {
      const meanAuc95 = interval(r.meanAucLo, r.meanAucHi);
      return {
        rank: r.rank,
        submissionId: r.id,
        date: new Date(r.createdAt).toISOString(),
        team: r.teamName,
        institution: r.institution,
        model: r.modelName,
        link: r.link,
        ensemble: r.ensemble,
        meanAuc: r.meanAuc,
        meanRadsBelowCurve: r.meanRadsBelowCurve,
        score: r.score,
        meanAuc95,
        tiedWithLeader: r.tiedWithLeader,
        display: {
          auc: formatAuc(r.meanAuc),
          rads: formatRads(r.meanRadsBelowCurve),
          auc95: formatInterval(meanAuc95),
        },
        tasks: r.tasks
          .map(([task, auc, lo, hi, radsBelowCurve]) => ({
            task,
            auc,
            radsBelowCurve,
            auc95: interval(lo, hi),
          }))
          .sort((a, b) => (TASK_ORDER.get(a.task) ?? 99) - (TASK_ORDER.get(b.task) ?? 99)),
      };
    }),
  };
}

/** Where routes read the leaderboard from. */
export interface LeaderboardSource {
  get(): Promise<RankedLeaderboard>;
  /** The same board serialized once per version, with an ETag for conditional requests. */
  json(): Promise<{ body: Buffer; etag: string }>;
}

/**
 * The leaderboard, rebuilt only when what it shows may have changed. Each read first asks PostgreSQL
 * for a fingerprint of the rows it is built from: the count and the transaction ids (xmin) of the
 * competition's scored submissions, its teams and the competition itself. Any write to one of those
 * rows (a new score, a re-score, hide, disqualify, a tie mark, a team's details, the AUC floor)
 * changes its xmin, so the fingerprint changes and the next read rebuilds. Every API process and the
 * workers write through PostgreSQL, so this holds across processes without any messaging.
 *
 * The fingerprint is read before the rows: a write landing in between makes the cached board newer
 * than its fingerprint, which only causes one more rebuild, never a stale answer.
 */
export function cachedLeaderboard(db: Db, competition: CompetitionInfo): LeaderboardSource {
  interface Entry {
    fingerprint: string;
    board: Promise<RankedLeaderboard>;
    json?: Promise<{ body: Buffer; etag: string }>;
  }
  let cached: Entry | null = null;
  // Concurrent readers share one fingerprint query per round (see coalesced): under load PostgreSQL
  // aggregates the board's rows a few times a second instead of once per request.
  const fingerprintNow = coalesced(async (): Promise<string> => {
    const [row] = await db.$queryRaw<{ fingerprint: string }[]>`
      SELECT concat_ws(':',
        (SELECT count(*) || '/' || coalesce(sum(xmin::text::bigint), 0) || '/' || coalesce(max(xmin::text::bigint), 0)
           FROM "Submission" WHERE "competitionId" = ${competition.id}::uuid AND state = 'scored'),
        (SELECT count(*) || '/' || coalesce(sum(xmin::text::bigint), 0)
           FROM "Team" WHERE "competitionId" = ${competition.id}::uuid),
        (SELECT xmin::text FROM "Competition" WHERE id = ${competition.id}::uuid)) AS fingerprint`;
    return row?.fingerprint ?? "";
  });
  const current = async (): Promise<Entry> => {
    const fingerprint = await fingerprintNow();
    if (cached?.fingerprint !== fingerprint) {
      // Concurrent readers of the same fingerprint share one build; a failed build is not kept.
      const board = buildLeaderboard(db, competition);
      const entry: Entry = { fingerprint, board };
      cached = entry;
      void board.catch(() => {
        if (cached === entry) cached = null;
      });
    }
    return cached;
  };
  return {
    async get() {
      return (await current()).board;
    },
    async json() {
      const entry = await current();
      // Serialized once per version: a large board costs its stringify once, not on every request.
      entry.json ??= entry.board.then((board) => {
        // Kept as bytes: a multi-megabyte string would be encoded again on every write.
        const body = Buffer.from(JSON.stringify(board), "utf8");
        return { body, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
      });
      return entry.json;
    },
  };
}
