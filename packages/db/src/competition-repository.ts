import { randomInt } from "node:crypto";
import { recordAudit, type AuditActor } from "./audit-repository.ts";
import type { Db } from "./client.ts";
import type { Prisma } from "./generated/prisma/client.ts";
import { DEFAULT_PHASE_NAME } from "./phase-repository.ts";

export interface CompetitionSpec {
  slug: string;
  name: string;
  aucFloor?: number;
}

/**
 * Creates the competition on first use, with one phase on the hidden set (released precision,
 * ranked, the competition's quota) from now until it is closed: what a single-competition
 * deployment always had. Later calls return it unchanged.
 */
export async function ensureCompetition(db: Db, spec: CompetitionSpec) {
  // One clock for both: the phase opens exactly when the competition is created, by the same
  // clock that later asks whether it is open (this process's).
  const now = new Date();
  return db.competition.upsert({
    where: { slug: spec.slug },
    create: {
      slug: spec.slug,
      name: spec.name,
      aucFloor: spec.aucFloor ?? 0.7,
      createdAt: now,
      phases: { create: { ordinal: 1, name: DEFAULT_PHASE_NAME, startsAt: now } },
    },
    update: {},
  });
}

/**
 * Deletes a competition with everything in it: its teams (with their sessions, tokens and quota
 * reservations), its submissions (with their results, timelines and logs) and its audit rows all
 * cascade. No route offers this; a bench removes the competition it seeded.
 */
export async function deleteCompetition(db: Db, id: string): Promise<void> {
  await db.competition.delete({ where: { id } });
}

export async function findCompetitionBySlug(db: Db, slug: string) {
  return db.competition.findUnique({ where: { slug } });
}

export interface CompetitionSettings {
  registrationOpen: boolean;
  requireApproval: boolean;
  quotaPerDay: number;
  quotaTotal: number;
  aucDecimals: number;
  radsDecimals: number;
  ladder: boolean;
  /** The public part's share of the test set's studies; null: no split. */
  splitFraction: number | null;
}

const SETTINGS_SELECT = {
  registrationOpen: true,
  requireApproval: true,
  quotaPerDay: true,
  quotaTotal: true,
  aucDecimals: true,
  radsDecimals: true,
  ladder: true,
  splitFraction: true,
} as const;

/** The settings with what organizers see of the competition's state: closed (by whom), the split's seed. */
export type CompetitionSettingsView = CompetitionSettings & {
  state: "open" | "closed";
  closedAt: Date | null;
  closedBy: string | null;
  splitSeed: number | null;
};

const VIEW_SELECT = {
  ...SETTINGS_SELECT,
  state: true,
  closedAt: true,
  closedBy: true,
  splitSeed: true,
} as const;

/** Read on every use, never cached: an organizer may close registration at any moment. */
export async function getCompetitionSettings(
  db: Db,
  competitionId: string,
): Promise<CompetitionSettingsView> {
  return db.competition.findUniqueOrThrow({ where: { id: competitionId }, select: VIEW_SELECT });
}

/** A setting that can no longer change (the split once scores exist, split and ladder once closed). */
export class SettingLockedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SettingLockedError";
  }
}

const describe = (v: string | number | boolean | null | Date) => (v === null ? "none" : String(v));

/**
 * Changes settings, with an audit row naming each change. The public/private split is drawn anew
 * (a random seed, recorded) whenever its fraction changes, which is allowed only before the first
 * score: the entries already scored would otherwise be ranked on other studies than the rest.
 */
export async function updateCompetitionSettings(
  db: Db,
  by: AuditActor,
  patch: Partial<CompetitionSettings>,
): Promise<CompetitionSettingsView> {
  return db.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT id FROM "Competition" WHERE id = ${by.competitionId}::uuid FOR UPDATE`;
    const before = await tx.competition.findUniqueOrThrow({
      where: { id: by.competitionId },
      select: VIEW_SELECT,
    });
    const changes = (Object.keys(patch) as (keyof CompetitionSettings)[]).filter(
      (k) => patch[k] !== undefined && patch[k] !== before[k],
    );
    const closed = before.state === "closed";
    if (changes.includes("splitFraction")) {
      if (closed) throw new SettingLockedError("the public/private split cannot change after closing");
      const scored = await tx.submission.count({
        where: { competitionId: by.competitionId, state: "scored" },
      });
      if (scored > 0) {
        throw new SettingLockedError(
          `the public/private split is fixed once a submission has been scored (${scored} are): entries would be ranked on different studies`,
        );
      }
    }
    if (changes.includes("ladder") && closed) {
      throw new SettingLockedError("the ladder cannot change after closing");
    }
    const data: Prisma.CompetitionUpdateInput = {};
    for (const k of changes) Object.assign(data, { [k]: patch[k] });
    if (changes.includes("splitFraction")) {
      data.splitSeed = patch.splitFraction === null ? null : randomInt(0, 2 ** 31 - 1);
    }
    const after = await tx.competition.update({ where: { id: by.competitionId }, data, select: VIEW_SELECT });
    if (changes.length > 0) {
      await recordAudit(tx, by, {
        action: "settings.update",
        targetType: "competition",
        targetId: by.competitionId,
        detail: changes.map((k) => `${k}: ${describe(before[k])} → ${describe(after[k])}`).join("; "),
      });
    }
    return after;
  });
}

export class CompetitionAlreadyClosedError extends Error {
  constructor(closedAt: Date | null) {
    super(`the competition is already closed${closedAt ? ` (since ${closedAt.toISOString()})` : ""}`);
    this.name = "CompetitionAlreadyClosedError";
  }
}

/**
 * Closes the competition: from now on no upload is recorded (createSubmission checks under a lock on
 * the same row), the phase open now ends now (phases still to come never open), the hidden-set
 * curves are published, and with a split each team without a final of
 * its own gets its best public-part entry as its final. One transaction with its audit row; closing
 * twice is refused. Returns how many teams got a final chosen for them. `at`: when it closed (the
 * last phase's end, for a closing by the schedule); default now.
 */
export async function closeCompetition(
  db: Db,
  by: AuditActor,
  opts: { at?: Date } = {},
): Promise<{ closedAt: Date; closedBy: string; finalsChosen: number }> {
  return db.$transaction(async (tx) => {
    const [row] = await tx.$queryRaw<{ state: string; closedAt: Date | null; split: boolean }[]>`
      SELECT state::text, "closedAt", "splitFraction" IS NOT NULL AS split
      FROM "Competition" WHERE id = ${by.competitionId}::uuid FOR UPDATE`;
    if (!row) throw new Error(`no competition ${by.competitionId}`);
    if (row.state === "closed") throw new CompetitionAlreadyClosedError(row.closedAt);
    const closedAt = opts.at ?? new Date();
    await tx.competition.update({
      where: { id: by.competitionId },
      data: { state: "closed", closedAt, closedBy: by.actor },
    });
    // Closed early: the open phase's end says when it really ended.
    await tx.phase.updateMany({
      where: {
        competitionId: by.competitionId,
        startsAt: { lt: closedAt },
        OR: [{ endsAt: null }, { endsAt: { gt: closedAt } }],
      },
      data: { endsAt: closedAt },
    });
    // A team's default final: its best entry on the public part that it shows on the board.
    const finalsChosen = row.split
      ? await tx.$executeRaw`
        UPDATE "Submission" SET "selectedFinal" = true
        WHERE id IN (
          SELECT DISTINCT ON (s."teamId") s.id
          FROM "Submission" s
          JOIN "SubmissionPartScore" p ON p."submissionId" = s.id AND p.part = 'public'
          WHERE s."competitionId" = ${by.competitionId}::uuid AND s.state = 'scored'
            AND NOT s.hidden AND NOT s.disqualified AND s."ladderImproved" IS DISTINCT FROM false
            AND NOT EXISTS (
              SELECT 1 FROM "Submission" f
              WHERE f."teamId" = s."teamId" AND f."selectedFinal" AND f.state = 'scored'
                AND NOT f.hidden AND NOT f.disqualified)
          ORDER BY s."teamId", p.score DESC, s."createdAt" ASC)`
      : 0;
    await recordAudit(tx, by, {
      action: "competition.close",
      targetType: "competition",
      targetId: by.competitionId,
      detail: row.split
        ? `closed; ${finalsChosen} team(s) without a final choice got their best public entry as final`
        : "closed",
    });
    return { closedAt, closedBy: by.actor, finalsChosen };
  });
}

/**
 * What decides what teams and the public may read of hidden-set results: whether the competition
 * is open, the released precision, the public/private split and the ladder. Read on every use (an
 * organizer may close the competition or change the precision at any moment).
 */
export interface CompetitionPolicy {
  state: "open" | "closed";
  closedAt: Date | null;
  closedBy: string | null;
  aucDecimals: number;
  radsDecimals: number;
  /** Organizers only: the public part's share of the studies and the seed that drew it. */
  splitFraction: number | null;
  splitSeed: number | null;
  ladder: boolean;
}

const POLICY_SELECT = {
  state: true,
  closedAt: true,
  closedBy: true,
  aucDecimals: true,
  radsDecimals: true,
  splitFraction: true,
  splitSeed: true,
  ladder: true,
} as const;

export async function getCompetitionPolicy(db: Db, competitionId: string): Promise<CompetitionPolicy> {
  return db.competition.findUniqueOrThrow({ where: { id: competitionId }, select: POLICY_SELECT });
}

/** Who closes a competition whose last phase ended, as the audit log names it. */
export const SCHEDULE_ACTOR = "schedule:the last phase ended";

/**
 * Closes every open competition whose last phase has ended, as of that end: the same closing as an
 * organizer's (curves published, default finals chosen, an audit row by SCHEDULE_ACTOR). Safe to
 * run from several processes at once: a competition closed meanwhile is skipped. Returns those it
 * closed; with a split (`split`) the caller asks for the final board's tie marks, as after any closing.
 * With `only`, just the competitions of those slugs.
 */
export async function closeEndedCompetitions(db: Db, now = new Date(), only?: readonly string[]) {
  const ended = await db.competition.findMany({
    where: {
      state: "open",
      ...(only ? { slug: { in: [...only] } } : {}),
      phases: { some: {}, none: { OR: [{ endsAt: null }, { endsAt: { gt: now } }] } },
    },
    select: {
      id: true,
      slug: true,
      splitFraction: true,
      phases: { select: { endsAt: true }, orderBy: { ordinal: "desc" }, take: 1 },
    },
  });
  const closed: { competitionId: string; slug: string; closedAt: Date; split: boolean }[] = [];
  for (const c of ended) {
    const end = c.phases[0]?.endsAt;
    if (!end) continue;
    try {
      const r = await closeCompetition(db, { competitionId: c.id, actor: SCHEDULE_ACTOR }, { at: end });
      closed.push({
        competitionId: c.id,
        slug: c.slug,
        closedAt: r.closedAt,
        split: c.splitFraction !== null,
      });
    } catch (err) {
      if (!(err instanceof CompetitionAlreadyClosedError)) throw err;
    }
  }
  return closed;
}
