import { recordAudit } from "./audit-repository.ts";
import type { Db } from "./client.ts";
import type { Phase } from "./generated/prisma/client.ts";
import { checkPhases, phaseRow, PhaseSpecError, type PhaseSpec } from "./phase-repository.ts";

/** The competition is closed: its phases are history and stay as they ran. */
export class CompetitionClosedForPlanError extends Error {
  constructor(readonly slug: string) {
    super(`competition ${slug} is closed: its phases can no longer change`);
    this.name = "CompetitionClosedForPlanError";
  }
}

const same = (a: Date | null, b: Date | null) =>
  a === null ? b === null : b !== null && a.getTime() === b.getTime();
const when = (d: Date | null) => (d ? d.toISOString() : "open");

/**
 * What may change in a phase that has already started, at `now`. An ended phase is history: it
 * stays as it ran. The open one keeps its name, data, feedback, ranking and start (its entries
 * were made, and released, under them); only its end and quotas may move, and its end not into
 * the past (ending it now is allowed). Throws PhaseSpecError naming the phase and the field.
 */
function checkStarted(old: Phase, next: PhaseSpec | undefined, now: Date): void {
  const label = `phase ${old.ordinal} "${old.name}"`;
  const fail = (problem: string) => {
    throw new PhaseSpecError(label, problem);
  };
  if (!next) fail("has started, so it cannot be removed");
  const p = next!;
  const ended = old.endsAt !== null && old.endsAt.getTime() <= now.getTime();
  if (p.name.trim() !== old.name)
    fail(`has started, so its name stays "${old.name}" (got "${p.name.trim()}")`);
  if (p.data !== old.data) fail(`has started on the ${old.data} data, which cannot change`);
  if (p.feedback !== old.feedback) fail(`has started with ${old.feedback} feedback, which cannot change`);
  if (p.ranked !== old.ranked) fail(`has started ${old.ranked ? "ranked" : "unranked"}, which cannot change`);
  if (!same(p.startsAt, old.startsAt)) {
    fail(
      `has started at ${old.startsAt.toISOString()}, which cannot change (got ${p.startsAt.toISOString()})`,
    );
  }
  if (ended) {
    if (!same(p.endsAt, old.endsAt)) fail(`ended at ${when(old.endsAt)}: an ended phase cannot move`);
    if ((p.quotaPerDay ?? null) !== old.quotaPerDay || (p.quotaTotal ?? null) !== old.quotaTotal) {
      fail("has ended: its quota cannot change");
    }
    return;
  }
  if (p.endsAt !== null && p.endsAt.getTime() < now.getTime()) {
    fail(`is open: it may end now (${now.toISOString()}) or later, not at ${p.endsAt.toISOString()}`);
  }
}

/** A quota left out (undefined) is the one the phase of that name has now, if any; null is "the competition's". */
function keepQuota(p: PhaseSpec, existing: readonly Phase[]): PhaseSpec {
  const old = existing.find((e) => e.name.toLowerCase() === p.name.trim().toLowerCase());
  return {
    ...p,
    quotaPerDay: p.quotaPerDay === undefined ? (old?.quotaPerDay ?? null) : p.quotaPerDay,
    quotaTotal: p.quotaTotal === undefined ? (old?.quotaTotal ?? null) : p.quotaTotal,
  };
}

export interface PhasePlanChange {
  /** Phases kept (started ones, with what moved), then the phases to come as given. */
  phases: Phase[];
  /** One line per phase that changed, added or went, as the audit log records it. */
  changes: string[];
}

/**
 * Replaces a competition's plan of phases at `now`, the organizer's way to move dates, extend or
 * end the open phase early, and add, change or drop phases that have not started. `phases` is the
 * whole plan in order: phases that have started come first, matched by position, and may change
 * only as `checkStarted` allows; the rest replace every phase still to come. The whole plan is
 * then checked as at creation (order, no overlap, only the last open-ended…). A quota left out
 * stays the one the phase of that name has. One transaction,
 * with its audit row; nothing is written if anything is refused.
 */
export async function replacePhasePlan(
  db: Db,
  by: { actor: string },
  competitionId: string,
  phases: readonly PhaseSpec[],
  now = new Date(),
): Promise<PhasePlanChange> {
  return db.$transaction(async (tx) => {
    // Row lock: two organizers editing at once get one plan after the other, never a mix.
    const [competition] = await tx.$queryRaw<{ slug: string; state: string; devsetDir: string | null }[]>`
      SELECT slug, state::text AS state, "devsetDir" FROM "Competition" WHERE id = ${competitionId}::uuid FOR UPDATE`;
    if (!competition) throw new PhaseSpecError("competition", "does not exist");
    if (competition.state === "closed") throw new CompetitionClosedForPlanError(competition.slug);
    checkPhases(phases, { hasDevset: competition.devsetDir !== null });
    const existing = await tx.phase.findMany({ where: { competitionId }, orderBy: { ordinal: "asc" } });
    const plan = phases.map((p) => keepQuota(p, existing));
    const started = existing.filter((p) => p.startsAt.getTime() <= now.getTime());
    started.forEach((old, i) => checkStarted(old, plan[i], now));
    const toCome = plan.slice(started.length);
    for (const [i, p] of toCome.entries()) {
      if (p.startsAt.getTime() < now.getTime()) {
        throw new PhaseSpecError(
          `phase ${started.length + i + 1} "${p.name.trim()}"`,
          `would start at ${p.startsAt.toISOString()}, in the past: a phase to come starts now (${now.toISOString()}) or later`,
        );
      }
    }

    const changes: string[] = [];
    for (const [i, old] of started.entries()) {
      const p = plan[i]!;
      const quota = { quotaPerDay: p.quotaPerDay ?? null, quotaTotal: p.quotaTotal ?? null };
      if (
        same(p.endsAt, old.endsAt) &&
        quota.quotaPerDay === old.quotaPerDay &&
        quota.quotaTotal === old.quotaTotal
      ) {
        continue;
      }
      await tx.phase.update({ where: { id: old.id }, data: { endsAt: p.endsAt, ...quota } });
      changes.push(`${old.ordinal}. ${old.name}: ends ${when(old.endsAt)} → ${when(p.endsAt)}`);
    }
    // Phases to come have no submissions (uploads need an open phase): one unchanged at its place
    // is kept, the others are replaced.
    const future = existing.slice(started.length);
    const unchanged = (old: Phase | undefined, p: PhaseSpec) =>
      old !== undefined &&
      old.name === p.name.trim() &&
      old.data === p.data &&
      old.feedback === p.feedback &&
      old.ranked === p.ranked &&
      same(old.startsAt, p.startsAt) &&
      same(old.endsAt, p.endsAt) &&
      old.quotaPerDay === (p.quotaPerDay ?? null) &&
      old.quotaTotal === (p.quotaTotal ?? null);
    const keep = new Set(toCome.flatMap((p, i) => (unchanged(future[i], p) ? [future[i]!.id] : [])));
    const gone = future.filter((p) => !keep.has(p.id));
    if (gone.length > 0) await tx.phase.deleteMany({ where: { id: { in: gone.map((p) => p.id) } } });
    for (const old of gone) changes.push(`${old.ordinal}. ${old.name}: removed`);
    for (const [i, p] of toCome.entries()) {
      if (keep.has(future[i]?.id ?? "")) continue;
      const ordinal = started.length + i + 1;
      await tx.phase.create({ data: { competitionId, ...phaseRow(p, ordinal) } });
      changes.push(
        `${ordinal}. ${p.name.trim()} (${p.data}): ${p.startsAt.toISOString()} → ${when(p.endsAt)}`,
      );
    }
    await recordAudit(
      tx,
      { competitionId, actor: by.actor },
      {
        action: "competition.phases",
        targetType: "competition",
        targetId: competitionId,
        detail: changes.length > 0 ? changes.join("; ") : "no change",
      },
    );
    const after = await tx.phase.findMany({ where: { competitionId }, orderBy: { ordinal: "asc" } });
    return { phases: after, changes };
  });
}
