import type { Db } from "./client.ts";
import type { Prisma } from "./generated/prisma/client.ts";
import type { PartScoreRecord, ScoreRecord } from "./score-repository.ts";

// Where a score came from (the worker records it with the score), what re-scores changed (kept,
// never overwritten silently), and what the audit reads and marks. docs/architecture.md,
// "Provenance and audit".

/** The limits a run had, as the provenance keeps them (the team knows them; nothing of the data). */
export interface RunLimitsRecord {
  memoryBytes: number;
  cpus: number;
  wallClockMs: number;
  outputBytes: number;
  tmpBytes: number;
  pids: number;
  /** Always `none`: the sandbox never gives a model a network. */
  network: "none";
  /** The GPUs granted (`all`, or device ids), or null for none. */
  gpu: string | null;
}

/** What the worker records beside a score. */
export interface ProvenanceRecord {
  /** An image's ID (the SHA-256 of its config); for a bundle the runtime image's ID. */
  imageId: string;
  /** A bundle's runtime image by name; null for an image. */
  runtimeImage: string | null;
  uploadSha256: string;
  scorer: string;
  scorerVersion: string;
  bootstrap: { replicates: number; seed: number };
  /** The set the scored run was on. */
  dataset: "hidden" | "development";
  /** contentSha256 of that set's directory as the worker read it. */
  testsetSha256: string;
  worker: string;
  limits: RunLimitsRecord;
  smokeLimits: RunLimitsRecord | null;
  smoke: { startedAt: Date; endedAt: Date } | null;
  run: { startedAt: Date; endedAt: Date };
}

/** What a re-score changes in the provenance: the scoring, not the run. */
export interface RescoreProvenance {
  actor: string;
  scorer: string;
  scorerVersion: string;
  bootstrap: { replicates: number; seed: number };
  testsetSha256: string;
  worker: string;
}

type Tx = Prisma.TransactionClient;

/** The provenance row for a recorded score (inside recordScore's transaction). */
export function provenanceRow(submissionId: string, p: ProvenanceRecord) {
  return {
    submissionId,
    imageId: p.imageId,
    runtimeImage: p.runtimeImage,
    uploadSha256: p.uploadSha256,
    scorer: p.scorer,
    scorerVersion: p.scorerVersion,
    bootstrapReplicates: p.bootstrap.replicates,
    bootstrapSeed: BigInt(p.bootstrap.seed),
    dataset: p.dataset,
    testsetSha256: p.testsetSha256,
    worker: p.worker,
    limits: p.limits as unknown as Prisma.InputJsonValue,
    ...(p.smokeLimits ? { smokeLimits: p.smokeLimits as unknown as Prisma.InputJsonValue } : {}),
    smokeStartedAt: p.smoke?.startedAt ?? null,
    smokeEndedAt: p.smoke?.endedAt ?? null,
    runStartedAt: p.run.startedAt,
    runEndedAt: p.run.endedAt,
  };
}

/** A score's figures without its curves: what a re-score's history keeps of before and after. */
export interface ScoreFigures {
  meanAuc: number | null;
  meanRadsBelowCurve: number | null;
  score: number | null;
  meanAucLo: number | null;
  meanAucHi: number | null;
  tasks: PartScoreRecord["tasks"];
  parts: StoredPartFigures[];
}

/** A part's figures as stored: its tasks are JSON (PartScoreRecord's tasks when written by us). */
export type StoredPartFigures = Omit<PartScoreRecord, "part" | "tasks"> & { part: string; tasks: unknown };

/** The figures of a score about to be recorded. */
export function figuresOfRecord(r: ScoreRecord): ScoreFigures {
  return {
    meanAuc: r.meanAuc,
    meanRadsBelowCurve: r.meanRadsBelowCurve,
    score: r.score,
    meanAucLo: r.meanAucLo ?? null,
    meanAucHi: r.meanAucHi ?? null,
    tasks: r.tasks.map((t) => ({
      task: t.task,
      auc: t.auc,
      aucLo: t.aucLo ?? null,
      aucHi: t.aucHi ?? null,
      radsBelowCurve: t.radsBelowCurve,
    })),
    parts: (r.parts ?? []).map((p) => ({ ...p })),
  };
}

/** The stored figures of a submission, as the re-score's history and the audit read them. */
const FIGURES_SELECT = {
  meanAuc: true,
  meanRadsBelowCurve: true,
  score: true,
  meanAucLo: true,
  meanAucHi: true,
  results: { orderBy: { task: "asc" } },
  parts: { orderBy: { part: "asc" } },
} as const satisfies Prisma.SubmissionSelect;

/** The figures stored now for a submission, read inside a re-score's transaction. */
export async function storedFigures(tx: Tx, id: string): Promise<ScoreFigures> {
  const s = await tx.submission.findUniqueOrThrow({
    where: { id },
    select: FIGURES_SELECT,
  });
  return {
    meanAuc: s.meanAuc,
    meanRadsBelowCurve: s.meanRadsBelowCurve,
    score: s.score,
    meanAucLo: s.meanAucLo,
    meanAucHi: s.meanAucHi,
    tasks: s.results.map((t) => ({
      task: t.task,
      auc: t.auc,
      aucLo: t.aucLo,
      aucHi: t.aucHi,
      radsBelowCurve: t.radsBelowCurve,
    })),
    parts: s.parts.map((p) => ({
      part: p.part,
      meanAuc: p.meanAuc,
      meanRadsBelowCurve: p.meanRadsBelowCurve,
      score: p.score,
      meanAucLo: p.meanAucLo,
      meanAucHi: p.meanAucHi,
      tasks: p.tasks,
    })),
  };
}

/**
 * A re-score's history row (before and after, with the set's hash on each side) and the provenance
 * brought up to the new scoring; a row scored before provenance was kept stays without one.
 */
export async function recordRevision(
  tx: Tx,
  id: string,
  previous: ScoreFigures,
  next: ScoreFigures,
  p: RescoreProvenance,
): Promise<void> {
  const before = await tx.scoreProvenance.findUnique({
    where: { submissionId: id },
    select: { testsetSha256: true },
  });
  // As text for PostgreSQL's exact jsonb parser (score-repository.ts, writeExactly, says why).
  await tx.$executeRaw`INSERT INTO "ScoreRevision"
    ("submissionId", actor, previous, next, "previousTestsetSha256", "testsetSha256")
    VALUES (${id}::uuid, ${p.actor}, ${JSON.stringify(previous)}::jsonb, ${JSON.stringify(next)}::jsonb,
      ${before?.testsetSha256 ?? null}, ${p.testsetSha256})`;
  if (before) {
    await tx.scoreProvenance.update({
      where: { submissionId: id },
      data: {
        scorer: p.scorer,
        scorerVersion: p.scorerVersion,
        bootstrapReplicates: p.bootstrap.replicates,
        bootstrapSeed: BigInt(p.bootstrap.seed),
        testsetSha256: p.testsetSha256,
        worker: p.worker,
        testsetChangedAt: null,
        currentTestsetSha256: null,
      },
    });
  }
}

/** A submission's provenance, or null when none was recorded. */
export async function findScoreProvenance(db: Db, submissionId: string) {
  return db.scoreProvenance.findUnique({ where: { submissionId } });
}

/** A submission's re-scores, oldest first (organizers only: full-precision figures). */
export async function listScoreRevisions(db: Db, submissionId: string) {
  return db.scoreRevision.findMany({ where: { submissionId }, orderBy: { id: "asc" } });
}

/** The scored submissions of a competition, oldest first: what `holdout audit --all` goes through. */
export async function listScoredSubmissionIds(db: Db, competitionId: string): Promise<string[]> {
  const rows = await db.submission.findMany({
    where: { competitionId, state: "scored" },
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    select: { id: true },
  });
  return rows.map((r) => r.id);
}

/** Everything an audit compares with its re-computation: the stored figures, curves and predictions. */
export async function findScoreForAudit(db: Db, id: string) {
  return db.submission.findUnique({
    where: { id },
    select: {
      id: true,
      competitionId: true,
      state: true,
      ...FIGURES_SELECT,
      predictions: { select: { csv: true } },
      provenance: true,
      phase: { select: { data: true } },
    },
  });
}

/**
 * Marks a score as made on a previous version of its test set: the audit found the set's content
 * hash to be `current`, not the one recorded. Kept until a re-score; the first finding's time stays.
 */
export async function markTestsetChanged(db: Db, submissionId: string, current: string): Promise<void> {
  await db.scoreProvenance.updateMany({
    where: { submissionId, testsetSha256: { not: current } },
    data: { currentTestsetSha256: current },
  });
  await db.scoreProvenance.updateMany({
    where: { submissionId, testsetSha256: { not: current }, testsetChangedAt: null },
    data: { testsetChangedAt: new Date() },
  });
}
