import type { Db } from "./client.ts";
import type { Prisma } from "./generated/prisma/client.ts";
import { LEADERBOARD_ORDER, listedWhere } from "./leaderboard-repository.ts";

export interface TieCandidate {
  id: string;
  score: number;
  meanAuc: number;
  /** Stored predictions (canonical CSV); null for entries scored before predictions were kept. */
  predictionsCsv: string | null;
}

/**
 * A ranked board: the whole test set's (no split), or one part's of a split test set (the public
 * part's while open and after; the private part's, for the teams' finals, once closed).
 */
export type TieBoard = "full" | "public" | "private";

/** The split as the worker needs it to pick a part's studies (organizers' data: never shown). */
export interface SplitSetting {
  fraction: number;
  seed: number;
}

export type DecideTies = (
  board: TieBoard,
  listed: TieCandidate[],
  split: SplitSetting | null,
) => Map<string, boolean | null>;

type Tx = Prisma.TransactionClient;

// Baselines are ranked on the boards but left out here: never the leader, never compared with it,
// so their mark is null (cleared below like an entry no longer listed).
const NOT_BASELINE = { team: { baseline: false } } satisfies Prisma.SubmissionWhereInput;

async function markFullBoard(tx: Tx, competitionId: string, aucFloor: number, decide: DecideTies) {
  const rows = await tx.submission.findMany({
    where: { ...listedWhere(competitionId, aucFloor), ...NOT_BASELINE },
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
  const marks = decide("full", listed, null);
  let changed = 0;
  for (const r of rows) {
    const mark = marks.get(r.id) ?? null;
    if (mark === r.tiedWithLeader) continue;
    await tx.submission.update({ where: { id: r.id }, data: { tiedWithLeader: mark } });
    changed++;
  }
  // Entries no longer listed (hidden, disqualified) and baselines lose their mark.
  const cleared = await tx.submission.updateMany({
    where: { competitionId, tiedWithLeader: { not: null }, id: { notIn: rows.map((r) => r.id) } },
    data: { tiedWithLeader: null },
  });
  return { listed: rows.length, changed: changed + cleared.count };
}

async function markPartBoard(
  tx: Tx,
  competitionId: string,
  aucFloor: number,
  part: "public" | "private",
  split: SplitSetting,
  decide: DecideTies,
) {
  // The leaderboard's listing rule on the part's scores; the private board holds the finals only.
  const where: Prisma.SubmissionPartScoreWhereInput = {
    part,
    meanAuc: { gte: aucFloor },
    submission: {
      ...listedWhere(competitionId, -Infinity),
      ...NOT_BASELINE,
      ...(part === "private" ? { selectedFinal: true } : {}),
    },
  };
  const rows = await tx.submissionPartScore.findMany({
    where,
    orderBy: [{ score: "desc" }, { submission: { createdAt: "asc" } }],
    select: {
      submissionId: true,
      score: true,
      meanAuc: true,
      tiedWithLeader: true,
      submission: { select: { predictions: { select: { csv: true } } } },
    },
  });
  const listed = rows.map((r) => ({
    id: r.submissionId,
    score: r.score,
    meanAuc: r.meanAuc,
    predictionsCsv: r.submission.predictions?.csv ?? null,
  }));
  const marks = decide(part, listed, split);
  let changed = 0;
  for (const r of rows) {
    const mark = marks.get(r.submissionId) ?? null;
    if (mark === r.tiedWithLeader) continue;
    await tx.submissionPartScore.update({
      where: { submissionId_part: { submissionId: r.submissionId, part } },
      data: { tiedWithLeader: mark },
    });
    changed++;
  }
  const cleared = await tx.submissionPartScore.updateMany({
    where: {
      part,
      submission: { competitionId },
      tiedWithLeader: { not: null },
      submissionId: { notIn: rows.map((r) => r.submissionId) },
    },
    data: { tiedWithLeader: null },
  });
  return { listed: rows.length, changed: changed + cleared.count };
}

/**
 * Recomputes the "tied with the leader" marks of each board the competition shows, serialized per
 * competition by an advisory lock held for the whole read-compute-write (two workers finishing at
 * once cannot interleave their marks). `decide` receives a board's listed entries but baselines,
 * best first (score, then earliest), and returns the mark of each; every other submission (a
 * baseline's included) gets null (no mark).
 * Returns the number of entries listed on the boards and of marks that changed.
 */
export async function updateLeaderTies(
  db: Db,
  competitionId: string,
  decide: DecideTies,
): Promise<{ listed: number; changed: number }> {
  return db.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`holdout:ties:${competitionId}`}))`;
      const c = await tx.competition.findUniqueOrThrow({ where: { id: competitionId } });
      if (c.splitFraction === null || c.splitSeed === null) {
        return markFullBoard(tx, competitionId, c.aucFloor, decide);
      }
      const split = { fraction: c.splitFraction, seed: c.splitSeed };
      const parts: ("public" | "private")[] = c.state === "closed" ? ["public", "private"] : ["public"];
      let total = { listed: 0, changed: 0 };
      for (const part of parts) {
        const r = await markPartBoard(tx, competitionId, c.aucFloor, part, split, decide);
        total = { listed: total.listed + r.listed, changed: total.changed + r.changed };
      }
      return total;
    },
    { maxWait: 120_000, timeout: 300_000 },
  );
}
