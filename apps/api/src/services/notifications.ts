import {
  newWebhookSecret,
  notifyJobOptions,
  QUEUE_NOTIFY,
  type NotifyQueue,
  parseWebhookUrl,
  resolveWebhookHost,
  UUID,
  WebhookAddressError,
} from "@holdout/contracts";
import type { Webhook, WebhookDelivery } from "@holdout/contracts/http";
import {
  createWebhook,
  deleteWebhook,
  getTeamNotifications,
  listWebhookDeliveries,
  listWebhooks,
  setTeamNotifications,
  TooManyWebhooksError,
  type Db,
} from "@holdout/db";
import type { FastifyBaseLogger } from "fastify";
import { Errors } from "../errors.ts";

// A team's notifications, for the API and the team page alike. Every call takes the team's id from
// its credentials: a team reaches only its own webhooks, and another team's id answers 404.

export interface NotificationService {
  register(teamId: string, url: string): Promise<{ webhook: Webhook; secret: string }>;
  list(teamId: string): Promise<Webhook[]>;
  remove(teamId: string, webhookId: string): Promise<void>;
  deliveries(teamId: string, webhookId: string): Promise<WebhookDelivery[]>;
  settings(teamId: string): Promise<{ emailOnEnd: boolean }>;
  setEmail(teamId: string, emailOnEnd: boolean): Promise<{ emailOnEnd: boolean }>;
}

const view = (w: { id: string; url: string; createdAt: Date }): Webhook => ({
  id: w.id,
  url: w.url,
  createdAt: w.createdAt.toISOString(),
});

/** `allowPrivate`: HOLDOUT_WEBHOOK_ALLOW_PRIVATE, the organizer's choice for local use and tests. */
export function createNotificationService(deps: { db: Db; allowPrivate: boolean }): NotificationService {
  const { db } = deps;
  return {
    async register(teamId, raw) {
      let url: URL;
      try {
        url = parseWebhookUrl(raw.trim());
        // Checked here so a team learns at once; the worker checks again at each delivery.
        await resolveWebhookHost(url, deps.allowPrivate);
      } catch (err) {
        if (err instanceof WebhookAddressError) throw new Errors.WebhookRefused(`url: ${err.message}`);
        throw err;
      }
      const secret = newWebhookSecret();
      try {
        const w = await createWebhook(db, teamId, url.toString(), secret);
        return { webhook: view(w), secret };
      } catch (err) {
        if (err instanceof TooManyWebhooksError) throw new Errors.TooManyWebhooks(err.message);
        throw err;
      }
    },
    async list(teamId) {
      return (await listWebhooks(db, teamId)).map(view);
    },
    async remove(teamId, webhookId) {
      if (!UUID.test(webhookId) || !(await deleteWebhook(db, teamId, webhookId)))
        throw new Errors.NotFound(`your team has no webhook ${webhookId}`);
    },
    async deliveries(teamId, webhookId) {
      const rows = UUID.test(webhookId) ? await listWebhookDeliveries(db, teamId, webhookId) : null;
      if (!rows) throw new Errors.NotFound(`your team has no webhook ${webhookId}`);
      return rows.map((d) => ({
        id: d.id,
        submissionId: d.submissionId,
        state: d.state,
        createdAt: d.createdAt.toISOString(),
        attempts: d.attempts.map((a) => ({ ...a, at: a.at.toISOString() })),
      }));
    },
    settings: (teamId) => getTeamNotifications(db, teamId),
    setEmail: (teamId, emailOnEnd) => setTeamNotifications(db, teamId, emailOnEnd),
  };
}

/**
 * Queues the notifications of a submission the API ended itself (cancelled while it waited, so no
 * worker will). A failure is logged: the cancellation stands whatever becomes of its notice.
 */
export async function queueEndNotice(
  queue: Pick<NotifyQueue, "add">,
  submissionId: string,
  log: FastifyBaseLogger,
): Promise<void> {
  const job = { kind: "ended", submissionId } as const;
  try {
    await queue.add(QUEUE_NOTIFY, job, notifyJobOptions(job));
  } catch (err) {
    log.error({ err, submissionId }, "could not queue the notifications of a cancelled submission");
  }
}
