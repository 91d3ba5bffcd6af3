import type { Db } from "./client.ts";
import type { Prisma } from "./generated/prisma/client.ts";

/** Every organizer action that leaves a row, named as `<target>.<verb>`. */
export const AUDIT_ACTIONS = [
  "competition.create",
  "competition.close",
  "competition.phases",
  "competition.page",
  "settings.update",
  "submission.hide",
  "submission.unhide",
  "submission.disqualify",
  "submission.requalify",
  "submission.rescore",
  "team.approve",
  "team.unapprove",
  "baseline.create",
  "baseline.update",
  "baseline.submit",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Who acts, in which competition: passed to the repository functions that change something. */
export interface AuditActor {
  competitionId: string;
  /**
   * `organizer:<email>` (API or web), `cli:<user>@<host>` (the command line on the server), or
   * `schedule:…` (done by the phases' dates).
   */
  actor: string;
}

export interface AuditEntry {
  action: AuditAction;
  targetType?: "submission" | "team" | "competition";
  targetId?: string;
  /** The why (a disqualification's reason) or the what (the settings changed). */
  detail?: string | null;
}

type Tx = Prisma.TransactionClient | Db;

/**
 * Writes an audit row. Called inside the transaction of the change it records wherever the change is
 * a database write, so a row exists exactly when the change does.
 */
export async function recordAudit(tx: Tx, by: AuditActor, entry: AuditEntry): Promise<void> {
  await tx.auditEvent.create({
    data: {
      competitionId: by.competitionId,
      actor: by.actor,
      action: entry.action,
      targetType: entry.targetType ?? null,
      targetId: entry.targetId ?? null,
      detail: entry.detail ?? null,
    },
  });
}

export interface AuditRow {
  id: bigint;
  at: Date;
  actor: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  detail: string | null;
}

/** A competition's audit rows, newest first; `before` (an id) pages back through older ones. */
export async function listAudit(
  db: Db,
  competitionId: string,
  opts: { limit: number; before?: bigint },
): Promise<AuditRow[]> {
  return db.auditEvent.findMany({
    where: { competitionId, ...(opts.before !== undefined ? { id: { lt: opts.before } } : {}) },
    orderBy: { id: "desc" },
    take: opts.limit,
    select: {
      id: true,
      at: true,
      actor: true,
      action: true,
      targetType: true,
      targetId: true,
      detail: true,
    },
  });
}
