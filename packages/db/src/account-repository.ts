import type { Db } from "./client.ts";
import { Prisma } from "./generated/prisma/client.ts";
import { burnPasswordCheck, hashPassword, verifyPassword } from "./passwords.ts";
import { generateToken, hashToken, tokenDisplayPrefix } from "./tokens.ts";
import { teamNameKey } from "./team-names.ts";
import { TeamNameTakenError } from "./team-repository.ts";

export class EmailTakenError extends Error {
  constructor(email: string, why = "an account with this email already exists") {
    super(`${why}: ${email}`);
    this.name = "EmailTakenError";
  }
}

export class TooManyTokensError extends Error {
  constructor(readonly max: number) {
    super(`at most ${max} API tokens may be live at once: revoke one you no longer use first`);
    this.name = "TooManyTokensError";
  }
}

/** Who a credential speaks for. Teams see their own things; organizers see everything. */
export type Principal =
  | {
      role: "team";
      credentialId: string;
      team: { id: string; name: string; competitionId: string; approved: boolean };
    }
  | { role: "organizer"; credentialId: string; account: { id: string; email: string } };

/** The owner of a token or session: exactly one of the two. */
export type Owner = { teamId: string } | { accountId: string };

export function ownerOf(p: Principal): Owner {
  return p.role === "team" ? { teamId: p.team.id } : { accountId: p.account.id };
}

export const normalizeEmail = (email: string) => email.trim().toLowerCase();

function isUniqueViolation(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2002";
}

export interface TeamRegistration {
  competitionId: string;
  name: string;
  institution: string | null;
  contactEmail: string;
  password: string;
  approved: boolean;
}

/**
 * A self-registered team with its first API token (returned here and never again). One team per
 * person: an email belongs to one team of a competition (a unique index), and an organizer's email
 * to no team at all (an organizer signs in with it, and a team holding it would stand in the way).
 */
export async function registerTeam(db: Db, input: TeamRegistration) {
  const token = generateToken();
  const contactEmail = normalizeEmail(input.contactEmail);
  if (await db.account.findUnique({ where: { email: contactEmail }, select: { id: true } })) {
    throw new EmailTakenError(contactEmail, "this email belongs to an organizer account, not to a team");
  }
  const passwordHash = await hashPassword(input.password);
  try {
    const team = await db.team.create({
      data: {
        competitionId: input.competitionId,
        name: input.name,
        nameKey: teamNameKey(input.name),
        institution: input.institution,
        contactEmail,
        passwordHash,
        approved: input.approved,
        termsAcceptedAt: new Date(),
        tokens: {
          create: { tokenHash: hashToken(token), prefix: tokenDisplayPrefix(token), label: "registration" },
        },
      },
      select: { id: true, name: true, institution: true, contactEmail: true, approved: true },
    });
    return { team, token };
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    // Which of the two unique keys clashed: ask, rather than parse driver-specific metadata.
    const sameName = await db.team.count({
      where: { competitionId: input.competitionId, nameKey: teamNameKey(input.name) },
    });
    throw sameName > 0
      ? new TeamNameTakenError(input.name)
      : new EmailTakenError(contactEmail, "a team with this email is already registered");
  }
}

/** An organizer account (CLI only); never with a team's email (whose sign-in it would take over). */
export async function createOrganizer(db: Db, input: { email: string; password: string }) {
  const email = normalizeEmail(input.email);
  if (await db.team.findFirst({ where: { contactEmail: email }, select: { id: true } })) {
    throw new EmailTakenError(email, "a team uses this email; an organizer needs an address of their own");
  }
  try {
    return await db.account.create({
      data: { email, passwordHash: await hashPassword(input.password), role: "organizer" },
      select: { id: true, email: true, role: true },
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new EmailTakenError(email);
    throw err;
  }
}

/**
 * Email + password to an owner: an organizer account first, then a team of this competition. An
 * organizer's email is theirs alone: a team registered with it (before registration refused that)
 * never shadows the organizer's sign-in, and the organizer's password decides. Unknown emails cost a
 * full hash check too, so timing does not tell which emails exist.
 */
export async function verifyLogin(
  db: Db,
  input: { competitionId: string; email: string; password: string },
): Promise<Owner | null> {
  const email = normalizeEmail(input.email);
  const account = await db.account.findUnique({ where: { email }, select: { id: true, passwordHash: true } });
  if (account) {
    return (await verifyPassword(input.password, account.passwordHash)) ? { accountId: account.id } : null;
  }
  const team = await db.team.findUnique({
    where: { competitionId_contactEmail: { competitionId: input.competitionId, contactEmail: email } },
    select: { id: true, passwordHash: true },
  });
  if (team?.passwordHash) {
    return (await verifyPassword(input.password, team.passwordHash)) ? { teamId: team.id } : null;
  }
  await burnPasswordCheck(input.password);
  return null;
}

const PRINCIPAL_SELECT = {
  id: true,
  team: { select: { id: true, name: true, competitionId: true, approved: true } },
  account: { select: { id: true, email: true } },
} as const;

type PrincipalRow = {
  id: string;
  team: { id: string; name: string; competitionId: string; approved: boolean } | null;
  account: { id: string; email: string } | null;
};

function toPrincipal(row: PrincipalRow): Principal | null {
  if (row.team) return { role: "team", credentialId: row.id, team: row.team };
  if (row.account) return { role: "organizer", credentialId: row.id, account: row.account };
  return null;
}

// lastUsedAt is written at most once a minute per credential: a busy client must not turn every
// read into a write.
const LAST_USED_RESOLUTION_MS = 60_000;

/** Resolves an API token to its owner, or null if unknown or revoked. Records its last use. */
export async function authenticateApiToken(db: Db, token: string): Promise<Principal | null> {
  const row = await db.apiToken.findUnique({
    where: { tokenHash: hashToken(token) },
    select: { ...PRINCIPAL_SELECT, revokedAt: true },
  });
  if (!row || row.revokedAt) return null;
  const now = new Date();
  await db.apiToken.updateMany({
    where: {
      id: row.id,
      OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: new Date(now.getTime() - LAST_USED_RESOLUTION_MS) } }],
    },
    data: { lastUsedAt: now },
  });
  return toPrincipal(row);
}

export interface AuthenticatedTeam {
  id: string;
  name: string;
  competitionId: string;
  tokenId: string;
}

/** A team's API token to its team (organizer tokens give null here). */
export async function authenticateToken(db: Db, token: string): Promise<AuthenticatedTeam | null> {
  const p = await authenticateApiToken(db, token);
  if (p?.role !== "team") return null;
  return { id: p.team.id, name: p.team.name, competitionId: p.team.competitionId, tokenId: p.credentialId };
}

/**
 * A new API token for the owner. With `maxLive`, refused (TooManyTokensError) when the owner already
 * has that many unrevoked tokens: counted and inserted under a lock on the owner's row, so parallel
 * requests cannot each see room for one more.
 */
export async function issueApiToken(
  db: Db,
  owner: Owner,
  label: string | null,
  limits: { maxLive?: number } = {},
) {
  const token = generateToken();
  const data = { ...owner, tokenHash: hashToken(token), prefix: tokenDisplayPrefix(token), label };
  const select = { id: true, prefix: true, label: true, createdAt: true } as const;
  const { maxLive } = limits;
  if (maxLive === undefined) return { ...(await db.apiToken.create({ data, select })), token };
  const row = await db.$transaction(async (tx) => {
    await ("teamId" in owner
      ? tx.$queryRaw`SELECT id FROM "Team" WHERE id = ${owner.teamId}::uuid FOR UPDATE`
      : tx.$queryRaw`SELECT id FROM "Account" WHERE id = ${owner.accountId}::uuid FOR UPDATE`);
    const live = await tx.apiToken.count({ where: { ...owner, revokedAt: null } });
    if (live >= maxLive) throw new TooManyTokensError(maxLive);
    return tx.apiToken.create({ data, select });
  });
  return { ...row, token };
}

export async function listApiTokens(db: Db, owner: Owner) {
  return db.apiToken.findMany({
    where: owner,
    orderBy: { createdAt: "desc" },
    select: { id: true, prefix: true, label: true, createdAt: true, lastUsedAt: true, revokedAt: true },
  });
}

/** Revokes one of the owner's tokens; false if it has no such (unrevoked) token. */
export async function revokeApiToken(db: Db, owner: Owner, tokenId: string): Promise<boolean> {
  const { count } = await db.apiToken.updateMany({
    where: { ...owner, id: tokenId, revokedAt: null },
    data: { revokedAt: new Date() },
  });
  return count === 1;
}

export async function createSession(db: Db, owner: Owner, ttlMs: number) {
  const token = generateToken();
  const expiresAt = new Date(Date.now() + ttlMs);
  await db.session.create({ data: { ...owner, tokenHash: hashToken(token), expiresAt } });
  return { token, expiresAt };
}

export async function authenticateSession(db: Db, token: string): Promise<Principal | null> {
  const row = await db.session.findUnique({
    where: { tokenHash: hashToken(token) },
    select: { ...PRINCIPAL_SELECT, expiresAt: true },
  });
  if (!row || row.expiresAt <= new Date()) return null;
  return toPrincipal(row);
}

export async function deleteSession(db: Db, token: string) {
  await db.session.deleteMany({ where: { tokenHash: hashToken(token) } });
}
