import { recordAudit } from "./audit-repository.ts";
import type { Db } from "./client.ts";
import { Prisma, type Competition, type Phase } from "./generated/prisma/client.ts";
import {
  checkPhases,
  phaseRow,
  competitionStatus,
  type CompetitionStatus,
  type PhaseSpec,
} from "./phase-repository.ts";

export type ScorerName = "chexpert" | "mean_auc";

/** The scorers as the command line and the API spell them (`--scorer mean-auc`), to the stored names. */
export const SCORERS = { chexpert: "chexpert", "mean-auc": "mean_auc" } as const satisfies Record<
  string,
  ScorerName
>;

/** A competition as an organizer creates it (`holdout competition create`, the organizer pages). */
export interface NewCompetition {
  slug: string;
  name: string;
  /** The hidden test set's directory on the worker hosts and the SHA-256 of its content. */
  testsetDir: string;
  testsetSha256: string;
  /** The development set (public labels), both or neither. */
  devsetDir?: string | null;
  devsetSha256?: string | null;
  scorer?: ScorerName;
  /** The label columns scored, from the test set's manifest; default the five CheXpert tasks. */
  tasks?: string[];
  runtimeImage?: string | null;
  terms?: string | null;
  aucFloor?: number;
  registrationOpen?: boolean;
  requireApproval?: boolean;
  quotaPerDay?: number;
  quotaTotal?: number;
  aucDecimals?: number;
  radsDecimals?: number;
  ladder?: boolean;
  phases: readonly PhaseSpec[];
}

/** Something about a new competition that cannot be, named by its field. */
export class CompetitionSpecError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = "CompetitionSpecError";
  }
}

export class CompetitionSlugTakenError extends Error {
  constructor(readonly slug: string) {
    super(`a competition with the slug ${slug} already exists`);
    this.name = "CompetitionSlugTakenError";
  }
}

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const SHA256 = /^[0-9a-f]{64}$/;

function checkCompetition(spec: NewCompetition): void {
  const fail = (field: string, problem: string) => {
    throw new CompetitionSpecError(field, problem);
  };
  if (!SLUG.test(spec.slug)) {
    fail("slug", "must be 1 to 63 lowercase letters, digits or -, not starting or ending with -");
  }
  if (!spec.name?.trim()) fail("name", "must not be empty");
  if (!spec.testsetDir?.trim()) fail("testsetDir", "must name the test set's directory");
  if (!SHA256.test(spec.testsetSha256)) fail("testsetSha256", "must be a SHA-256 in lowercase hex");
  const devDir = spec.devsetDir ?? null;
  const devHash = spec.devsetSha256 ?? null;
  if ((devDir === null) !== (devHash === null)) {
    fail("devsetDir", "the development set needs both its directory and its SHA-256");
  }
  if (devHash !== null && !SHA256.test(devHash)) fail("devsetSha256", "must be a SHA-256 in lowercase hex");
  for (const k of ["quotaPerDay", "quotaTotal", "aucDecimals", "radsDecimals"] as const) {
    const v = spec[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) fail(k, "must be a whole number, 0 or more");
  }
  if (spec.tasks !== undefined && (spec.tasks.length === 0 || spec.tasks.some((t) => !t.trim()))) {
    fail("tasks", "must name at least one label column, none empty");
  }
  checkPhases(spec.phases, { hasDevset: devDir !== null });
}

export type CompetitionWithPhases = Competition & { phases: Phase[] };

/**
 * Creates a competition with its phases (numbered from 1 in the order given) and its audit row, in
 * one transaction. Everything is checked first: CompetitionSpecError or PhaseSpecError name what
 * is wrong and nothing is written; CompetitionSlugTakenError if the slug is in use.
 */
export async function createCompetition(
  db: Db,
  by: { actor: string },
  spec: NewCompetition,
): Promise<CompetitionWithPhases> {
  checkCompetition(spec);
  const { phases, ...fields } = spec;
  try {
    return await db.$transaction(async (tx) => {
      const created = await tx.competition.create({
        data: {
          ...fields,
          name: spec.name.trim(),
          phases: {
            create: phases.map((p, i) => phaseRow(p, i + 1)),
          },
        },
        include: { phases: { orderBy: { ordinal: "asc" } } },
      });
      await recordAudit(
        tx,
        { competitionId: created.id, actor: by.actor },
        {
          action: "competition.create",
          targetType: "competition",
          targetId: created.id,
          detail: created.phases.map((p) => `${p.ordinal}. ${p.name} (${p.data}, ${p.feedback})`).join("; "),
        },
      );
      return created;
    });
  } catch (err) {
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2002") {
      throw new CompetitionSlugTakenError(spec.slug);
    }
    throw err;
  }
}

/** A competition as lists show it: where it stands at `at` and its current and next phase. */
export interface CompetitionSummary {
  id: string;
  slug: string;
  name: string;
  scorer: ScorerName;
  status: CompetitionStatus;
  closedAt: Date | null;
  createdAt: Date;
  currentPhase: Phase | null;
  nextPhase: Phase | null;
}

function summarize(c: CompetitionWithPhases, at: Date): CompetitionWithPhases & CompetitionSummary {
  const status = competitionStatus(c.state, c.phases, at);
  const open = status === "closed" ? [] : c.phases;
  return {
    ...c,
    status,
    currentPhase:
      open.find((p) => p.startsAt <= at && (p.endsAt === null || p.endsAt.getTime() > at.getTime())) ?? null,
    nextPhase: open.find((p) => p.startsAt.getTime() > at.getTime()) ?? null,
  };
}

/** Every competition, oldest first, with where it stands at `at`. */
export async function listCompetitions(db: Db, at = new Date()): Promise<CompetitionSummary[]> {
  const rows = await db.competition.findMany({
    orderBy: [{ createdAt: "asc" }, { slug: "asc" }],
    include: { phases: { orderBy: { ordinal: "asc" } } },
  });
  return rows.map((c) => {
    const { id, slug, name, scorer, status, closedAt, createdAt, currentPhase, nextPhase } = summarize(c, at);
    return { id, slug, name, scorer, status, closedAt, createdAt, currentPhase, nextPhase };
  });
}

/** One competition by its slug with all its settings, its phases in order and where it stands; null if none. */
export async function showCompetition(db: Db, slug: string, at = new Date()) {
  const c = await db.competition.findUnique({
    where: { slug },
    include: { phases: { orderBy: { ordinal: "asc" } } },
  });
  return c && summarize(c, at);
}

/** The same by id (a worker holding a submission's competitionId); null if none. */
export async function showCompetitionById(db: Db, id: string, at = new Date()) {
  const c = await db.competition.findUnique({
    where: { id },
    include: { phases: { orderBy: { ordinal: "asc" } } },
  });
  return c && summarize(c, at);
}

/** What a worker needs to run a competition's submissions: its sets, scorer and runtime image; null if none. */
export async function findCompetitionSets(db: Db, id: string) {
  return db.competition.findUnique({
    where: { id },
    select: {
      id: true,
      slug: true,
      scorer: true,
      testsetDir: true,
      testsetSha256: true,
      devsetDir: true,
      devsetSha256: true,
      runtimeImage: true,
    },
  });
}
