import type { Db } from "./client.ts";
import type { Prisma } from "./generated/prisma/client.ts";
import { currentPhaseAt, requireOpenPhase } from "./phase-repository.ts";
import { CompetitionClosedError } from "./submission-repository.ts";

export const QUOTA_WINDOW_MS = 24 * 3600 * 1000;

/** A team's quota in one phase: each phase counts the submissions made in it. */
export interface QuotaStatus {
  /** The phase counted (the open one; see currentPhaseAt when none is). */
  phaseId: string;
  perDay: number;
  total: number;
  usedInWindow: number;
  usedTotal: number;
  /** Submissions the team may start now: the smaller of what the window and the total leave. */
  remaining: number;
  /** When the next slot opens if the rolling window is full; null if a slot is free now or the
   * total is used up (then no slot ever opens). */
  nextSlotAt: Date | null;
  totalExhausted: boolean;
}

// Charged: every submission except refunded ones (infrastructure failures, failed smoke runs).
// Cancelled and team-fault failures in the hidden run count, as in the official competition.
const CHARGED: Prisma.SubmissionWhereInput = { refunded: false };

type Tx = Prisma.TransactionClient | Db;

interface QuotaPolicy {
  phaseId: string;
  perDay: number;
  total: number;
}

async function usage(tx: Tx, teamId: string, policy: QuotaPolicy, now: Date) {
  const since = new Date(now.getTime() - QUOTA_WINDOW_MS);
  const { phaseId } = policy;
  const [submittedTotal, submittedRecent, reservations] = await Promise.all([
    tx.submission.count({ where: { teamId, phaseId, ...CHARGED } }),
    tx.submission.findMany({
      where: { teamId, phaseId, createdAt: { gte: since }, ...CHARGED },
      select: { createdAt: true },
    }),
    // An upload in progress holds a slot; one whose reservation expired (its API process died) no
    // longer does.
    tx.quotaReservation.findMany({
      where: { teamId, phaseId, expiresAt: { gt: now } },
      select: { createdAt: true },
    }),
  ]);
  const window = [...submittedRecent, ...reservations]
    .map((r) => r.createdAt.getTime())
    .filter((t) => t >= since.getTime())
    .sort((a, b) => a - b);
  const usedInWindow = window.length;
  const usedTotal = submittedTotal + reservations.length;
  const leftInWindow = Math.max(0, policy.perDay - usedInWindow);
  const leftTotal = Math.max(0, policy.total - usedTotal);
  const totalExhausted = leftTotal === 0;
  // With the window full, a slot opens when enough of its oldest entries age out of it.
  const blocking = window[usedInWindow - policy.perDay];
  const nextSlotAt =
    !totalExhausted && leftInWindow === 0 && blocking !== undefined
      ? new Date(blocking + QUOTA_WINDOW_MS)
      : null;
  const status: QuotaStatus = {
    phaseId,
    perDay: policy.perDay,
    total: policy.total,
    usedInWindow,
    usedTotal,
    remaining: Math.min(leftInWindow, leftTotal),
    nextSlotAt,
    totalExhausted,
  };
  return status;
}

async function competitionOf(tx: Tx, teamId: string) {
  const team = await tx.team.findUniqueOrThrow({
    where: { id: teamId },
    select: {
      baseline: true,
      competition: { select: { id: true, state: true, quotaPerDay: true, quotaTotal: true } },
    },
  });
  return { ...team.competition, baseline: team.baseline };
}

/** A phase's own quota, else the competition's. */
function policyOf(
  competition: { quotaPerDay: number; quotaTotal: number },
  phase: { id: string; quotaPerDay: number | null; quotaTotal: number | null },
): QuotaPolicy {
  return {
    phaseId: phase.id,
    perDay: phase.quotaPerDay ?? competition.quotaPerDay,
    total: phase.quotaTotal ?? competition.quotaTotal,
  };
}

/** The phase whose quota a team reads: the one given, else currentPhaseAt (the open one, mostly). */
async function phasePolicy(tx: Tx, teamId: string, now: Date, phaseId?: string) {
  const competition = await competitionOf(tx, teamId);
  const phase =
    phaseId === undefined
      ? await currentPhaseAt(tx, competition.id, now)
      : await tx.phase.findFirstOrThrow({ where: { id: phaseId, competitionId: competition.id } });
  return policyOf(competition, phase);
}

/** A team's quota in a phase (default: the phase open at `now`, see currentPhaseAt). */
export async function quotaStatus(
  db: Db,
  teamId: string,
  now = new Date(),
  phaseId?: string,
): Promise<QuotaStatus> {
  return usage(db, teamId, await phasePolicy(db, teamId, now, phaseId), now);
}

export type Reservation =
  { ok: true; reservationId: string; status: QuotaStatus } | { ok: false; status: QuotaStatus };

/**
 * Takes a quota slot in the open phase for an upload about to stream, or says when the next one
 * opens. The team's row is locked (SELECT … FOR UPDATE) for the count and the insert, so
 * concurrent uploads of one team are serialized: with n slots left, exactly n of any number of
 * parallel requests get one. A baseline team always gets one (it has no quota). CompetitionClosedError
 * once closed; NoOpenPhaseError (naming the next phase) between phases.
 */
export async function reserveQuotaSlot(
  db: Db,
  input: { teamId: string; reservationId: string; ttlMs: number },
): Promise<Reservation> {
  return db.$transaction(
    async (tx) => {
      await tx.$queryRaw`SELECT id FROM "Team" WHERE id = ${input.teamId}::uuid FOR UPDATE`;
      const now = new Date();
      await tx.quotaReservation.deleteMany({ where: { teamId: input.teamId, expiresAt: { lte: now } } });
      const competition = await competitionOf(tx, input.teamId);
      if (competition.state === "closed") throw new CompetitionClosedError();
      const phase = await requireOpenPhase(tx, competition.id, now);
      const status = await usage(tx, input.teamId, policyOf(competition, phase), now);
      // A baseline (an organizer's entrant) has no quota: its slot only names the upload and its phase.
      if (status.remaining <= 0 && !competition.baseline) return { ok: false as const, status };
      await tx.quotaReservation.create({
        data: {
          id: input.reservationId,
          teamId: input.teamId,
          phaseId: phase.id,
          createdAt: now,
          expiresAt: new Date(now.getTime() + input.ttlMs),
        },
      });
      return {
        ok: true as const,
        reservationId: input.reservationId,
        status: {
          ...status,
          remaining: status.remaining - 1,
          usedInWindow: status.usedInWindow + 1,
          usedTotal: status.usedTotal + 1,
        },
      };
    },
    // Parallel uploads queue on the row lock (and on the pool): give them time to take turns.
    { maxWait: 30_000, timeout: 30_000 },
  );
}

/** Gives a slot back (the upload failed before it became a submission). */
export async function releaseQuotaSlot(db: Db, reservationId: string) {
  await db.quotaReservation.deleteMany({ where: { id: reservationId } });
}

/**
 * Keeps a team's resumable upload alive for another stretch (until `expiresAt`); false if there is
 * no such live reservation of that team (finished, expired, or someone else's).
 */
export async function renewUploadReservation(
  db: Db,
  r: { id: string; teamId: string; expiresAt: Date },
  now = new Date(),
): Promise<boolean> {
  const { count } = await db.quotaReservation.updateMany({
    where: { id: r.id, teamId: r.teamId, expiresAt: { gt: now } },
    data: { expiresAt: r.expiresAt },
  });
  return count === 1;
}

/** Which of these reservations still hold their slot at `now` (the others expired or are gone). */
export async function liveReservationIds(
  db: Db,
  ids: readonly string[],
  now = new Date(),
): Promise<Set<string>> {
  const rows = await db.quotaReservation.findMany({
    where: { id: { in: [...ids] }, expiresAt: { gt: now } },
    select: { id: true },
  });
  return new Set(rows.map((r) => r.id));
}

/**
 * When the team's oldest submission still counted in the phase's rolling window was made (it stops
 * counting a window later); null if none is. The phase as quotaStatus takes it.
 */
export async function oldestCountedSubmissionAt(
  db: Db,
  teamId: string,
  now = new Date(),
  phaseId?: string,
): Promise<Date | null> {
  const policy = await phasePolicy(db, teamId, now, phaseId);
  const oldest = await db.submission.findFirst({
    where: {
      teamId,
      phaseId: policy.phaseId,
      ...CHARGED,
      createdAt: { gte: new Date(now.getTime() - QUOTA_WINDOW_MS) },
    },
    orderBy: { createdAt: "asc" },
    select: { createdAt: true },
  });
  return oldest?.createdAt ?? null;
}
