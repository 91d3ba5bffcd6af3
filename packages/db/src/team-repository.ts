import { recordAudit, type AuditActor } from "./audit-repository.ts";
import type { Db } from "./client.ts";
import { Prisma } from "./generated/prisma/client.ts";
import { teamNameKey } from "./team-names.ts";
import { generateToken, hashToken, tokenDisplayPrefix } from "./tokens.ts";

export { teamNameKey } from "./team-names.ts";

export class TeamNameTakenError extends Error {
  constructor(name: string) {
    super(
      `the team name "${name}" is taken in this competition: another team's name reads the same (names are compared ignoring case, character width, spacing and invisible characters)`,
    );
    this.name = "TeamNameTakenError";
  }
}

/** Creates a team and its first API token. The token is returned here and never again. */
export async function createTeamWithToken(
  db: Db,
  input: { competitionId: string; name: string; institution?: string | null },
): Promise<{ team: { id: string; name: string; institution: string | null }; token: string }> {
  const token = generateToken();
  try {
    const team = await db.team.create({
      data: {
        competitionId: input.competitionId,
        name: input.name,
        nameKey: teamNameKey(input.name),
        institution: input.institution ?? null,
        tokens: {
          create: { tokenHash: hashToken(token), prefix: tokenDisplayPrefix(token), label: "initial" },
        },
      },
      select: { id: true, name: true, institution: true },
    });
    return { team, token };
  } catch (err) {
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2002") {
      throw new TeamNameTakenError(input.name);
    }
    throw err;
  }
}

/** A token asked for a baseline: nobody signs in as one, organizers submit its entries. */
export class BaselineTokenError extends Error {
  constructor(name: string) {
    super(
      `"${name}" is a baseline: nobody signs in as a baseline, organizers submit its entries (holdout baseline submit)`,
    );
    this.name = "BaselineTokenError";
  }
}

/**
 * Issues an additional token for a team found by name, or null if there is no such team; a
 * baseline's is a BaselineTokenError (its private detail is the organizers' alone).
 */
export async function issueTeamToken(
  db: Db,
  input: { competitionSlug: string; teamName: string; label?: string },
): Promise<{ team: { id: string; name: string }; token: string } | null> {
  const found = await db.team.findFirst({
    where: { name: input.teamName, competition: { slug: input.competitionSlug } },
    select: { id: true, name: true, baseline: true },
  });
  if (!found) return null;
  if (found.baseline) throw new BaselineTokenError(found.name);
  const team = { id: found.id, name: found.name };
  const token = generateToken();
  await db.apiToken.create({
    data: {
      teamId: team.id,
      tokenHash: hashToken(token),
      prefix: tokenDisplayPrefix(token),
      label: input.label ?? null,
    },
  });
  return { team, token };
}

/** Whether the team is one of this competition's. */
export async function isCompetitionTeam(db: Db, competitionId: string, teamId: string): Promise<boolean> {
  const team = await db.team.findFirst({ where: { id: teamId, competitionId }, select: { id: true } });
  return team !== null;
}

/** How a team is reached and where it is from (its page); throws if there is no such team. */
export async function getTeamContact(db: Db, teamId: string) {
  return db.team.findUniqueOrThrow({
    where: { id: teamId },
    select: { institution: true, contactEmail: true },
  });
}

export async function listTeams(db: Db, competitionId: string) {
  return db.team.findMany({
    where: { competitionId },
    orderBy: { createdAt: "asc" },
    select: {
      id: true,
      name: true,
      institution: true,
      contactEmail: true,
      approved: true,
      baseline: true,
      createdAt: true,
    },
  });
}

/** Approves a team (it may submit) or withdraws it, with the organizer's audit row; false if no such team. */
export async function setTeamApproved(db: Db, by: AuditActor, teamId: string, approved: boolean) {
  return db.$transaction(async (tx) => {
    const { count } = await tx.team.updateMany({
      where: { id: teamId, competitionId: by.competitionId },
      data: { approved },
    });
    if (count === 1) {
      await recordAudit(tx, by, {
        action: approved ? "team.approve" : "team.unapprove",
        targetType: "team",
        targetId: teamId,
      });
    }
    return count === 1;
  });
}
