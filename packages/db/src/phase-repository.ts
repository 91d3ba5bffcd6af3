import type { Db } from "./client.ts";
import type { Phase, Prisma } from "./generated/prisma/client.ts";

export type { Phase };
export type PhaseData = "development" | "hidden" | "hidden_public";
export type PhaseFeedback = "full" | "released";

/** The name of the one phase a competition gets when none is given (and what an upgrade gives). */
export const DEFAULT_PHASE_NAME = "Hidden test set";

/** A phase as an organizer describes it; validated by checkPhases before anything is written. */
export interface PhaseSpec {
  name: string;
  startsAt: Date;
  /** Null only for the last phase: it then runs until the competition is closed. */
  endsAt: Date | null;
  data: PhaseData;
  feedback: PhaseFeedback;
  /** The phase's own quota; null or absent: the competition's. */
  quotaPerDay?: number | null;
  quotaTotal?: number | null;
  ranked: boolean;
}

/** A phase list that cannot be: names the phase (position and name) and what is wrong with it. */
export class PhaseSpecError extends Error {
  constructor(
    readonly phase: string,
    readonly problem: string,
  ) {
    super(`${phase}: ${problem}`);
    this.name = "PhaseSpecError";
  }
}

const NAME_MAX = 100;
const validDate = (d: unknown): d is Date => d instanceof Date && !Number.isNaN(d.getTime());
const isCount = (n: unknown) => n === null || n === undefined || (Number.isInteger(n) && (n as number) >= 0);

/**
 * Checks a competition's phases: at least one; each named, starting before it ends; in order and
 * not overlapping (a phase may start when the previous one ends, gaps are allowed); only the last
 * open-ended; full feedback only on the development set, which the competition must then have;
 * quotas whole and not negative. Throws PhaseSpecError for the first problem found.
 */
export function checkPhases(phases: readonly PhaseSpec[], competition: { hasDevset: boolean }): void {
  if (phases.length === 0) throw new PhaseSpecError("phases", "a competition needs at least one phase");
  const names = new Set<string>();
  phases.forEach((p, i) => {
    const label = `phase ${i + 1}${p.name?.trim() ? ` "${p.name.trim()}"` : ""}`;
    const fail = (problem: string) => {
      throw new PhaseSpecError(label, problem);
    };
    const name = typeof p.name === "string" ? p.name.trim() : "";
    if (name === "") fail("has no name");
    if (name.length > NAME_MAX) fail(`name is longer than ${NAME_MAX} characters`);
    if (names.has(name.toLowerCase())) fail("has the same name as an earlier phase");
    names.add(name.toLowerCase());
    if (!validDate(p.startsAt)) fail("start is not a valid date");
    if (p.endsAt === null) {
      if (i < phases.length - 1)
        fail("has no end, but only the last phase may run until the competition closes");
    } else if (!validDate(p.endsAt)) {
      fail("end is not a valid date");
    } else if (p.endsAt.getTime() <= p.startsAt.getTime()) {
      fail(`ends (${p.endsAt.toISOString()}) before it starts (${p.startsAt.toISOString()})`);
    }
    const previous = phases[i - 1];
    if (previous?.endsAt && p.startsAt.getTime() < previous.endsAt.getTime()) {
      fail(
        `starts (${p.startsAt.toISOString()}) before phase ${i} "${previous.name.trim()}" ends (${previous.endsAt.toISOString()}): phases are in order and do not overlap`,
      );
    }
    if (p.data === "development" && !competition.hasDevset) {
      fail("runs on the development set, but the competition has none");
    }
    if (p.feedback === "full" && p.data !== "development") {
      fail("gives full feedback on the hidden set: only the development set's results may be shown in full");
    }
    if (!isCount(p.quotaPerDay)) fail("quota per day must be a whole number, 0 or more");
    if (!isCount(p.quotaTotal)) fail("total quota must be a whole number, 0 or more");
  });
}

/** Where a competition stands at a moment, from its state and its phases' dates. */
export type CompetitionStatus = "upcoming" | "open" | "between" | "ended" | "closed";

type Dated = Pick<Phase, "startsAt" | "endsAt">;
const isOpenAt = (p: Dated, at: Date) =>
  p.startsAt.getTime() <= at.getTime() && (p.endsAt === null || p.endsAt.getTime() > at.getTime());

/**
 * `closed` once an organizer closed it; `open` while a phase is; `upcoming` before its first phase;
 * `between` in a gap; `ended` once its last phase ended and nobody has closed it yet.
 */
export function competitionStatus(
  state: "open" | "closed",
  phases: readonly Dated[],
  at: Date,
): CompetitionStatus {
  if (state === "closed") return "closed";
  if (phases.some((p) => isOpenAt(p, at))) return "open";
  if (phases.every((p) => p.startsAt.getTime() > at.getTime())) return "upcoming";
  if (phases.some((p) => p.startsAt.getTime() > at.getTime())) return "between";
  return "ended";
}

/** Uploads are taken only while a phase is open: says when the next one opens, if one will. */
export class NoOpenPhaseError extends Error {
  constructor(readonly next: Pick<Phase, "name" | "startsAt"> | null) {
    super(
      next
        ? `no phase of the competition is open: the next one, "${next.name}", opens at ${next.startsAt.toISOString()}`
        : "no phase of the competition is open, and none is to come",
    );
    this.name = "NoOpenPhaseError";
  }
}

type Tx = Prisma.TransactionClient | Db;

/** A phase's row as stored, at its place in the competition's order (`ordinal` from 1). */
export function phaseRow(p: PhaseSpec, ordinal: number) {
  return {
    ordinal,
    name: p.name.trim(),
    startsAt: p.startsAt,
    endsAt: p.endsAt,
    data: p.data,
    feedback: p.feedback,
    quotaPerDay: p.quotaPerDay ?? null,
    quotaTotal: p.quotaTotal ?? null,
    ranked: p.ranked,
  };
}

/** A phase as JSON shows it (the API's list, the CLI's --json): times in ISO 8601, null when open-ended. */
export function phaseJson(p: Phase) {
  return {
    ordinal: p.ordinal,
    name: p.name,
    data: p.data,
    feedback: p.feedback,
    ranked: p.ranked,
    startsAt: p.startsAt.toISOString(),
    endsAt: p.endsAt?.toISOString() ?? null,
  };
}

/** A competition's phases in their order. */
export async function listPhases(db: Tx, competitionId: string): Promise<Phase[]> {
  return db.phase.findMany({ where: { competitionId }, orderBy: { ordinal: "asc" } });
}

/** The phase open at `at` (from its start, up to its end); null if none is or the competition is closed. */
export async function openPhaseAt(db: Tx, competitionId: string, at: Date): Promise<Phase | null> {
  return db.phase.findFirst({
    where: {
      competitionId,
      competition: { state: "open" },
      startsAt: { lte: at },
      OR: [{ endsAt: null }, { endsAt: { gt: at } }],
    },
    orderBy: { ordinal: "desc" },
  });
}

/** The first phase that starts after `at`; null if none will (or the competition is closed). */
export async function nextPhaseAfter(db: Tx, competitionId: string, at: Date): Promise<Phase | null> {
  return db.phase.findFirst({
    where: { competitionId, competition: { state: "open" }, startsAt: { gt: at } },
    orderBy: { startsAt: "asc" },
  });
}

/** The open phase at `at`, or NoOpenPhaseError naming the next one. */
export async function requireOpenPhase(db: Tx, competitionId: string, at: Date): Promise<Phase> {
  const open = await openPhaseAt(db, competitionId, at);
  if (open) return open;
  throw new NoOpenPhaseError(await nextPhaseAfter(db, competitionId, at));
}

/**
 * The phase a competition is in at `at`: the open one, else the latest that has started (ended,
 * or the competition closed), else the first (none has started). A team's quota and the default
 * leaderboard are this phase's. With a single phase (every upgraded competition) it is always that
 * phase, so both read as they did before phases.
 */
export async function currentPhaseAt(db: Tx, competitionId: string, at: Date): Promise<Phase> {
  const open = await openPhaseAt(db, competitionId, at);
  if (open) return open;
  const started = await db.phase.findFirst({
    where: { competitionId, startsAt: { lte: at } },
    orderBy: { ordinal: "desc" },
  });
  if (started) return started;
  return db.phase.findFirstOrThrow({ where: { competitionId }, orderBy: { ordinal: "asc" } });
}

/** The phase with this id if it belongs to this competition; null otherwise. */
export async function findCompetitionPhase(db: Tx, competitionId: string, phaseId: string) {
  return db.phase.findFirst({ where: { id: phaseId, competitionId } });
}
