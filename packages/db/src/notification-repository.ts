import type { Db } from "./client.ts";

// A team's notifications: its webhooks with their delivery log, and its e-mail choice. Every query
// that reads or changes a webhook takes the team's id, so one team can never reach another's.

/** At most this many webhooks per team (each submission's end is one delivery to each). */
export const MAX_WEBHOOKS_PER_TEAM = 5;

export class TooManyWebhooksError extends Error {
  constructor() {
    super(`a team may register at most ${MAX_WEBHOOKS_PER_TEAM} webhooks: remove one first`);
  }
}

/** A webhook as its team sees it: never the secret. */
const WEBHOOK_VIEW = { id: true, url: true, createdAt: true } as const;

/** Registers a webhook; the caller shows `secret` once and never again. */
export async function createWebhook(db: Db, teamId: string, url: string, secret: string) {
  return db.$transaction(async (tx) => {
    // Serializes registrations of one team, so two at once cannot pass the count together.
    await tx.$queryRaw`SELECT id FROM "Team" WHERE id = ${teamId}::uuid FOR UPDATE`;
    if ((await tx.webhook.count({ where: { teamId } })) >= MAX_WEBHOOKS_PER_TEAM)
      throw new TooManyWebhooksError();
    return tx.webhook.create({ data: { teamId, url, secret }, select: WEBHOOK_VIEW });
  });
}

export async function listWebhooks(db: Db, teamId: string) {
  return db.webhook.findMany({ where: { teamId }, orderBy: { createdAt: "asc" }, select: WEBHOOK_VIEW });
}

/** Removes a team's webhook and its log; false when the team has no such webhook. */
export async function deleteWebhook(db: Db, teamId: string, webhookId: string): Promise<boolean> {
  const { count } = await db.webhook.deleteMany({ where: { id: webhookId, teamId } });
  return count > 0;
}

/** A team's webhook's deliveries, newest first, with their attempts; null when the team has no such webhook. */
export async function listWebhookDeliveries(db: Db, teamId: string, webhookId: string, limit = 50) {
  const hook = await db.webhook.findFirst({ where: { id: webhookId, teamId }, select: { id: true } });
  if (!hook) return null;
  return db.webhookDelivery.findMany({
    where: { webhookId },
    orderBy: { createdAt: "desc" },
    take: limit,
    select: {
      id: true,
      submissionId: true,
      state: true,
      createdAt: true,
      attempts: {
        orderBy: { attempt: "asc" },
        select: { attempt: true, at: true, statusCode: true, error: true },
      },
    },
  });
}

export async function getTeamNotifications(db: Db, teamId: string) {
  const row = await db.teamNotifications.findUnique({ where: { teamId }, select: { emailOnEnd: true } });
  return { emailOnEnd: row?.emailOnEnd ?? false };
}

export async function setTeamNotifications(db: Db, teamId: string, emailOnEnd: boolean) {
  await db.teamNotifications.upsert({
    where: { teamId },
    create: { teamId, emailOnEnd },
    update: { emailOnEnd },
  });
  return { emailOnEnd };
}

// ---- the worker's side ----

/**
 * What a notification about a submission's end may say, and to whom: the submission's state,
 * failure category and stored scores (the caller releases them), its competition's release rules,
 * and its team's webhooks and e-mail choice. Null when the submission does not exist.
 */
export async function findEndedSubmission(db: Db, submissionId: string) {
  return db.submission.findUnique({
    where: { id: submissionId },
    select: {
      id: true,
      state: true,
      failureCategory: true,
      modelName: true,
      finishedAt: true,
      meanAuc: true,
      meanRadsBelowCurve: true,
      ladderImproved: true,
      parts: { where: { part: "public" }, select: { meanAuc: true, meanRadsBelowCurve: true } },
      competition: {
        select: {
          slug: true,
          name: true,
          scorer: true,
          aucDecimals: true,
          radsDecimals: true,
          splitFraction: true,
        },
      },
      team: {
        select: {
          id: true,
          name: true,
          contactEmail: true,
          notifications: { select: { emailOnEnd: true } },
          webhooks: { select: { id: true } },
        },
      },
    },
  });
}

/**
 * The delivery of a submission's end to a webhook, created once: a repeated fan-out (a job run
 * twice) finds the one it made. Returns its id.
 */
export async function ensureWebhookDelivery(db: Db, webhookId: string, submissionId: string, body: string) {
  const row = await db.webhookDelivery.upsert({
    where: { webhookId_submissionId: { webhookId, submissionId } },
    create: { webhookId, submissionId, body },
    update: {},
    select: { id: true },
  });
  return row.id;
}

/** A delivery with what sending it needs (the secret included: for the worker's signature only). */
export async function findWebhookDelivery(db: Db, deliveryId: string) {
  return db.webhookDelivery.findUnique({
    where: { id: deliveryId },
    select: { id: true, body: true, state: true, webhook: { select: { url: true, secret: true } } },
  });
}

/** Records one attempt; `final` settles the delivery as delivered (a 2xx) or failed. */
export async function recordWebhookAttempt(
  db: Db,
  deliveryId: string,
  attempt: { attempt: number; statusCode: number | null; error: string | null },
  final: "delivered" | "failed" | null,
) {
  await db.$transaction([
    db.webhookAttempt.upsert({
      where: { deliveryId_attempt: { deliveryId, attempt: attempt.attempt } },
      create: { deliveryId, ...attempt },
      update: { statusCode: attempt.statusCode, error: attempt.error, at: new Date() },
    }),
    ...(final ? [db.webhookDelivery.update({ where: { id: deliveryId }, data: { state: final } })] : []),
  ]);
}

/** Where organizers are told of an `infrastructure` failure: every organizer account's address. */
export async function listOrganizerEmails(db: Db): Promise<string[]> {
  const rows = await db.account.findMany({
    where: { role: "organizer" },
    orderBy: { createdAt: "asc" },
    select: { email: true },
  });
  return rows.map((r) => r.email);
}

/** A submission's state, or null when it does not exist. */
export async function findSubmissionState(db: Db, submissionId: string) {
  const row = await db.submission.findUnique({ where: { id: submissionId }, select: { state: true } });
  return row?.state ?? null;
}
