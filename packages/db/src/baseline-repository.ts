import { recordAudit, type AuditActor } from "./audit-repository.ts";
import type { Db } from "./client.ts";
import { Prisma } from "./generated/prisma/client.ts";
import { teamNameKey } from "./team-names.ts";

// Baselines (docs/architecture.md, "Baselines"): an organizer's entrant, e.g. "Stanford Baseline",
// kept as a team flagged `baseline` in its competition. Its name is a team name like any other (no
// team can register a look-alike of it), it has no login (a CHECK constraint: no email, no password)
// and no quota (reserveQuotaSlot), and its entries never lead for tie marks (updateLeaderTies).

/** A baseline's name reads the same as a participating team's: the organizer picks another. */
export class BaselineNameTakenError extends Error {
  constructor(name: string) {
    super(
      `"${name}" is a participating team's name in this competition (names are compared ignoring case, character width, spacing and invisible characters): choose another name for the baseline`,
    );
    this.name = "BaselineNameTakenError";
  }
}

export interface BaselineTeam {
  id: string;
  name: string;
  institution: string | null;
  createdAt: Date;
}

const SELECT = { id: true, name: true, institution: true, createdAt: true } as const;

/**
 * The competition's baseline of that name, created (audited) when there is none yet; `created` says
 * which. An institution given for an existing baseline replaces its own (audited too). A
 * participating team holding the name is a BaselineNameTakenError.
 */
export async function ensureBaselineTeam(
  db: Db,
  by: AuditActor,
  input: { name: string; institution?: string | null },
): Promise<{ team: BaselineTeam; created: boolean }> {
  const nameKey = teamNameKey(input.name);
  const where = { competitionId_nameKey: { competitionId: by.competitionId, nameKey } };
  for (let attempt = 0; ; attempt++) {
    const found = await db.team.findUnique({ where, select: { ...SELECT, baseline: true } });
    if (found) {
      if (!found.baseline) throw new BaselineNameTakenError(input.name);
      const team: BaselineTeam = {
        id: found.id,
        name: found.name,
        institution: found.institution,
        createdAt: found.createdAt,
      };
      if (input.institution === undefined || input.institution === team.institution) {
        return { team, created: false };
      }
      return db.$transaction(async (tx) => {
        const updated = await tx.team.update({
          where: { id: team.id },
          data: { institution: input.institution ?? null },
          select: SELECT,
        });
        await recordAudit(tx, by, {
          action: "baseline.update",
          targetType: "team",
          targetId: team.id,
          detail: `institution: ${input.institution ?? "(none)"}`,
        });
        return { team: updated, created: false };
      });
    }
    try {
      return await db.$transaction(async (tx) => {
        const team = await tx.team.create({
          data: {
            competitionId: by.competitionId,
            name: input.name,
            nameKey,
            institution: input.institution ?? null,
            baseline: true,
            approved: true,
          },
          select: SELECT,
        });
        await recordAudit(tx, by, {
          action: "baseline.create",
          targetType: "team",
          targetId: team.id,
          detail: team.name,
        });
        return { team, created: true };
      });
    } catch (err) {
      // Created by a concurrent request in between: read it again (once).
      const taken = err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2002";
      if (!taken || attempt > 0) throw err;
    }
  }
}

/** The competition's baselines, oldest first, with how many entries each has. */
export async function listBaselineTeams(db: Db, competitionId: string) {
  const rows = await db.team.findMany({
    where: { competitionId, baseline: true },
    orderBy: { createdAt: "asc" },
    select: { ...SELECT, _count: { select: { submissions: true } } },
  });
  return rows.map(({ _count, ...t }) => ({ ...t, submissions: _count.submissions }));
}

/** One of the competition's baselines by id, or null (no such team, or not a baseline). */
export async function findBaselineTeam(
  db: Db,
  competitionId: string,
  teamId: string,
): Promise<BaselineTeam | null> {
  return db.team.findFirst({ where: { id: teamId, competitionId, baseline: true }, select: SELECT });
}
