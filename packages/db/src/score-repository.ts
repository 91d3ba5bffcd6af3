import type { Db } from "./client.ts";
import type { Prisma } from "./generated/prisma/client.ts";
import {
  figuresOfRecord,
  provenanceRow,
  recordRevision,
  storedFigures,
  type ProvenanceRecord,
  type RescoreProvenance,
} from "./provenance-repository.ts";
import type { RunLease } from "./transition-repository.ts";

// Scores as the worker records them: the official figures with intervals and curves, each part's
// with a split, the ladder's decision, and re-scoring.

export interface TaskScore {
  task: string;
  auc: number;
  radsBelowCurve: number;
  roc: [number, number][];
  /** 95% bootstrap interval of the AUC. */
  aucLo?: number;
  aucHi?: number;
  /** The scorer's plot data besides the ROC: `{ pr, readerPoints, majority }`. */
  curves?: object;
}

/** The scores on one part of a split test set. */
export interface PartScoreRecord {
  part: "public" | "private";
  meanAuc: number;
  meanRadsBelowCurve: number;
  score: number;
  meanAucLo: number | null;
  meanAucHi: number | null;
  tasks: { task: string; auc: number; aucLo: number | null; aucHi: number | null; radsBelowCurve: number }[];
}

export interface ScoreRecord {
  meanAuc: number;
  meanRadsBelowCurve: number;
  score: number;
  tasks: TaskScore[];
  meanAucLo?: number;
  meanAucHi?: number;
  /** The predictions as scored (canonical CSV), kept for re-scoring and the paired comparisons. */
  predictionsCsv?: string;
  /** With a public/private split: each part's scores. */
  parts?: PartScoreRecord[];
}

/**
 * The ladder's part in recording a score: `decide` gets the team's best released submission (by the
 * score its board ranks on: the whole set's, or the public part's) and says whether the new one
 * significantly improves on it.
 */
export interface LadderStep {
  board: "full" | "public";
  decide(best: { id: string; predictionsCsv: string | null } | null): boolean;
}

function scoreColumns(result: ScoreRecord) {
  return {
    meanAuc: result.meanAuc,
    meanRadsBelowCurve: result.meanRadsBelowCurve,
    score: result.score,
    meanAucLo: result.meanAucLo ?? null,
    meanAucHi: result.meanAucHi ?? null,
  };
}

function taskRows(id: string, result: ScoreRecord) {
  return result.tasks.map((t) => ({
    submissionId: id,
    task: t.task,
    auc: t.auc,
    radsBelowCurve: t.radsBelowCurve,
    roc: t.roc,
    aucLo: t.aucLo ?? null,
    aucHi: t.aucHi ?? null,
    ...(t.curves === undefined ? {} : { curves: t.curves }),
  }));
}

// The timeline is read by the team and streamed as server-sent events: it says that a score exists,
// never the score (the submission's views release it, at the competition's precision).
export const SCORED_DETAIL = "scored on the hidden test set; the scores are on the submission";
export const LADDER_WITHHELD_DETAIL =
  "scored: no significant improvement on the team's best released score, so nothing new is released (ladder)";

function partRows(id: string, result: ScoreRecord) {
  return (result.parts ?? []).map((p) => ({ submissionId: id, ...p }));
}

type Tx = Prisma.TransactionClient;

/** A double as text PostgreSQL's float8 parser reads back to the same double (null stays null). */
const exact = (x: number | null | undefined) => (x === null || x === undefined ? null : String(x));

/**
 * Writes a score's numbers again as text, for PostgreSQL's own parsers (float8 and jsonb, both
 * exact): Prisma's write path keeps 16 significant digits of a double, so a stored figure could be a
 * few units in the last place off what the worker computed, and an audit could not say
 * "bit-identical" (measured: 1 of 5 seeded entries had a figure off; curves nearly always).
 * Prisma reads them back exactly.
 */
async function writeExactly(tx: Tx, id: string, result: ScoreRecord): Promise<void> {
  await tx.$executeRaw`UPDATE "Submission" SET
      "meanAuc" = ${exact(result.meanAuc)}::float8,
      "meanRadsBelowCurve" = ${exact(result.meanRadsBelowCurve)}::float8,
      score = ${exact(result.score)}::float8,
      "meanAucLo" = ${exact(result.meanAucLo)}::float8,
      "meanAucHi" = ${exact(result.meanAucHi)}::float8
    WHERE id = ${id}::uuid`;
  for (const t of result.tasks) {
    await tx.$executeRaw`UPDATE "TaskResult" SET
        auc = ${exact(t.auc)}::float8,
        "aucLo" = ${exact(t.aucLo)}::float8,
        "aucHi" = ${exact(t.aucHi)}::float8,
        roc = ${JSON.stringify(t.roc)}::jsonb,
        curves = COALESCE(${t.curves === undefined ? null : JSON.stringify(t.curves)}::jsonb, curves)
      WHERE "submissionId" = ${id}::uuid AND task = ${t.task}`;
  }
  for (const p of result.parts ?? []) {
    await tx.$executeRaw`UPDATE "SubmissionPartScore" SET
        "meanAuc" = ${exact(p.meanAuc)}::float8,
        "meanRadsBelowCurve" = ${exact(p.meanRadsBelowCurve)}::float8,
        score = ${exact(p.score)}::float8,
        "meanAucLo" = ${exact(p.meanAucLo)}::float8,
        "meanAucHi" = ${exact(p.meanAucHi)}::float8,
        tasks = ${JSON.stringify(p.tasks)}::jsonb
      WHERE "submissionId" = ${id}::uuid AND part = ${p.part}::"ScorePart"`;
  }
}

/** The team's best submission whose score was released, on the board the ladder compares on. */
async function bestReleased(tx: Tx, id: string, teamId: string, board: LadderStep["board"]) {
  const released: Prisma.SubmissionWhereInput = {
    teamId,
    state: "scored",
    id: { not: id },
    OR: [{ ladderImproved: null }, { ladderImproved: true }],
  };
  const select = { id: true, predictions: { select: { csv: true } } } as const;
  const best =
    board === "full"
      ? await tx.submission.findFirst({
          where: released,
          orderBy: [{ score: "desc" }, { createdAt: "asc" }],
          select,
        })
      : (
          await tx.submissionPartScore.findFirst({
            where: { part: "public", submission: released },
            orderBy: { score: "desc" },
            select: { submission: { select } },
          })
        )?.submission;
  return best ? { id: best.id, predictionsCsv: best.predictions?.csv ?? null } : null;
}

/**
 * Stores the scores (with intervals, curves, part scores and predictions when given) and marks the
 * submission `scored`, all or nothing. Idempotent: a retried job finds the submission no longer
 * `scoring` and writes nothing. With the ladder, the decision is taken here under a lock on the
 * team's row, so two of a team's submissions scored at once are compared one after the other.
 */
export async function recordScore(
  db: Db,
  lease: RunLease,
  result: ScoreRecord,
  opts: { ladder?: LadderStep; provenance?: ProvenanceRecord } = {},
): Promise<boolean> {
  const { submissionId: id, worker } = lease;
  return db.$transaction(
    async (tx) => {
      // Only the run that holds the submission's lease may score it (a run that lost it writes nothing).
      const { count } = await tx.submission.updateMany({
        where: { id, state: "scoring", leaseToken: lease.token },
        data: {
          state: "scored",
          ...scoreColumns(result),
          finishedAt: new Date(),
          heartbeatAt: null,
          leaseToken: null,
          leaseExpiresAt: null,
        },
      });
      if (count === 0) return false;
      await tx.taskResult.createMany({ data: taskRows(id, result), skipDuplicates: true });
      await tx.submissionPartScore.createMany({ data: partRows(id, result), skipDuplicates: true });
      await writeExactly(tx, id, result);
      if (opts.provenance) {
        await tx.scoreProvenance.create({ data: provenanceRow(id, opts.provenance) });
      }
      let improved: boolean | null = null;
      if (opts.ladder) {
        const { teamId } = await tx.submission.findUniqueOrThrow({ where: { id }, select: { teamId: true } });
        await tx.$queryRaw`SELECT id FROM "Team" WHERE id = ${teamId}::uuid FOR UPDATE`;
        improved = opts.ladder.decide(await bestReleased(tx, id, teamId, opts.ladder.board));
        await tx.submission.update({ where: { id }, data: { ladderImproved: improved } });
      }
      if (result.predictionsCsv !== undefined) {
        await tx.submissionPredictions.upsert({
          where: { submissionId: id },
          create: { submissionId: id, csv: result.predictionsCsv },
          update: { csv: result.predictionsCsv },
        });
      }
      await tx.submissionEvent.create({
        data: {
          submissionId: id,
          state: "scored",
          worker,
          detail: improved === false ? LADDER_WITHHELD_DETAIL : SCORED_DETAIL,
        },
      });
      return true;
    },
    // The ladder's paired bootstrap runs inside: give it the time the tie marks get.
    { maxWait: 60_000, timeout: 120_000 },
  );
}

/**
 * Re-scoring: replaces a scored submission's results (means, intervals, per-task rows and curves)
 * in one transaction, with a timeline event and a history row holding the figures before and after
 * (and the provenance brought up to the new scoring). False if it is not `scored` (nothing written).
 */
export async function replaceScore(
  db: Db,
  id: string,
  result: ScoreRecord,
  event: { worker: string; detail: string },
  provenance: RescoreProvenance,
): Promise<boolean> {
  return db.$transaction(async (tx) => {
    const previous = await storedFigures(tx, id);
    const { count } = await tx.submission.updateMany({
      where: { id, state: "scored" },
      data: scoreColumns(result),
    });
    if (count === 0) return false;
    await tx.taskResult.deleteMany({ where: { submissionId: id } });
    await tx.taskResult.createMany({ data: taskRows(id, result) });
    // Part scores are replaced too; the tie marks they carried are recomputed after the re-score.
    await tx.submissionPartScore.deleteMany({ where: { submissionId: id } });
    await tx.submissionPartScore.createMany({ data: partRows(id, result) });
    await writeExactly(tx, id, result);
    await recordRevision(tx, id, previous, figuresOfRecord(result), provenance);
    await tx.submissionEvent.create({
      data: {
        submissionId: id,
        state: "scored",
        worker: event.worker,
        detail: event.detail,
      },
    });
    return true;
  });
}

/** The stored predictions of a scored submission, or null. */
export async function findSubmissionPredictions(db: Db, id: string): Promise<string | null> {
  const row = await db.submissionPredictions.findUnique({
    where: { submissionId: id },
    select: { csv: true },
  });
  return row?.csv ?? null;
}
