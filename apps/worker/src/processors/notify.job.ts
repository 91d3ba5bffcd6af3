import { UnrecoverableError, type Job } from "bullmq";
import {
  assertNever,
  explainFailure,
  NotifyJobSchema,
  notifyJobOptions,
  QUEUE_NOTIFY,
  type NotifyJob,
  type NotifyQueue,
} from "@holdout/contracts";
import {
  ensureWebhookDelivery,
  findEndedSubmission,
  findWebhookDelivery,
  listOrganizerEmails,
  recordWebhookAttempt,
  type Db,
} from "@holdout/db";
import type { Logger } from "../logger.ts";
import type { Mailer } from "./mailer.ts";
import {
  endedPayload,
  isFinal,
  submissionPageUrl,
  type EndedSubmission,
  type FinalState,
} from "./notify-payload.ts";
import { sendWebhook, type WebhookSettings } from "./webhook-send.ts";

export interface NotifyProcessorDeps {
  db: Db;
  /** Where the fan-out adds the deliveries and messages. */
  queue: Pick<NotifyQueue, "add">;
  /** Null when no SMTP server is configured: no e-mail is sent. */
  mailer: Mailer | null;
  webhooks: WebhookSettings & { attempts: number; backoffMs: number };
  publicUrl: string | undefined;
  log: Logger;
}

/**
 * The notify queue's processor (docs/architecture.md, "Notifications"). Nothing here writes to a
 * submission: a notification that fails is retried with backoff, and in the end logged as failed
 * in its own row, while the submission's state stays what its run made it.
 */
export function createNotifyProcessor(deps: NotifyProcessorDeps) {
  return async (job: Job<NotifyJob>): Promise<void> => {
    const parsed = NotifyJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed job payload: ${parsed.error.message}`);
    const data = parsed.data;
    switch (data.kind) {
      case "ended":
        return fanOut(deps, data.submissionId);
      case "webhook":
        return deliver(deps, job, data.deliveryId);
      case "email":
        return mail(deps, data.submissionId, data.to);
      default:
        return assertNever(data);
    }
  };
}

/** One delivery per webhook of the team, one message to the team if it opted in, one to organizers on `infrastructure`. */
async function fanOut(deps: NotifyProcessorDeps, submissionId: string): Promise<void> {
  const s = await findEndedSubmission(deps.db, submissionId);
  if (!s || !isFinal(s.state)) return;
  const ended = { ...s, state: s.state };
  const body = JSON.stringify(endedPayload(ended, deps.publicUrl));
  const retry = { attempts: deps.webhooks.attempts, delayMs: deps.webhooks.backoffMs };
  for (const hook of s.team.webhooks) {
    // Created once per webhook and submission: a fan-out run twice re-adds the same job id.
    const deliveryId = await ensureWebhookDelivery(deps.db, hook.id, s.id, body);
    const job = { kind: "webhook", deliveryId } as const;
    await deps.queue.add(QUEUE_NOTIFY, job, notifyJobOptions(job, retry));
  }
  if (!deps.mailer) return;
  const mails: NotifyJob[] = [];
  if (s.team.notifications?.emailOnEnd && s.team.contactEmail)
    mails.push({ kind: "email", submissionId: s.id, to: "team" });
  if (s.state === "failed" && s.failureCategory === "infrastructure")
    mails.push({ kind: "email", submissionId: s.id, to: "organizers" });
  for (const m of mails) await deps.queue.add(QUEUE_NOTIFY, m, notifyJobOptions(m));
  deps.log.info(
    { submissionId, webhooks: s.team.webhooks.length, emails: mails.length },
    "notifications of a submission's end queued",
  );
}

/** One try of a webhook delivery, recorded in its log; throws for BullMQ to retry with backoff. */
async function deliver(deps: NotifyProcessorDeps, job: Job<NotifyJob>, deliveryId: string): Promise<void> {
  const d = await findWebhookDelivery(deps.db, deliveryId);
  // Gone with its webhook, or settled by an earlier run of this job.
  if (!d || d.state !== "pending") return;
  const attempt = job.attemptsMade + 1;
  const last = attempt >= (job.opts.attempts ?? 1);
  const r = await sendWebhook(
    { url: d.webhook.url, secret: d.webhook.secret, body: d.body, deliveryId },
    deps.webhooks,
  );
  // The log names the delivery, never the URL (it may carry the receiver's own token) or the secret.
  const log = deps.log.child({ deliveryId, attempt });
  switch (r.kind) {
    case "answered": {
      const ok = r.statusCode >= 200 && r.statusCode < 300;
      await recordWebhookAttempt(
        deps.db,
        deliveryId,
        { attempt, statusCode: r.statusCode, error: null },
        ok ? "delivered" : last ? "failed" : null,
      );
      if (ok) return log.info({ statusCode: r.statusCode }, "webhook delivered");
      log.warn({ statusCode: r.statusCode, last }, "webhook answered with an error");
      throw new Error(`the receiver answered ${r.statusCode}`);
    }
    case "error":
      await recordWebhookAttempt(
        deps.db,
        deliveryId,
        { attempt, statusCode: null, error: r.error },
        last ? "failed" : null,
      );
      log.warn({ error: r.error, last }, "webhook delivery failed");
      throw new Error(r.error);
    case "refused":
      // The address rule will not change between tries: no retry.
      await recordWebhookAttempt(
        deps.db,
        deliveryId,
        { attempt, statusCode: null, error: r.error },
        "failed",
      );
      log.warn({ error: r.error }, "webhook refused: its address may not be reached");
      throw new UnrecoverableError(r.error);
    default:
      return assertNever(r);
  }
}

const STATE_WORDS: Record<FinalState, string> = {
  scored: "scored",
  failed: "failed",
  cancelled: "was cancelled",
};

async function mail(
  deps: NotifyProcessorDeps,
  submissionId: string,
  to: "team" | "organizers",
): Promise<void> {
  if (!deps.mailer) return;
  const s = await findEndedSubmission(deps.db, submissionId);
  if (!s || !isFinal(s.state)) return;
  const ended = { ...s, state: s.state };
  const message =
    to === "team" ? teamMessage(ended, deps.publicUrl) : organizerMessage(ended, deps.publicUrl);
  const recipients =
    to === "team" ? [s.team.contactEmail].filter((e) => e !== null) : await listOrganizerEmails(deps.db);
  if (recipients.length === 0) return;
  await deps.mailer.send({ to: recipients, ...message });
  deps.log.info({ submissionId, to, recipients: recipients.length }, "notification e-mail sent");
}

/** What the team reads on its page, no more: the payload's figures and the category's fixed title. */
export function teamMessage(s: EndedSubmission & { state: FinalState }, publicUrl: string | undefined) {
  const p = endedPayload(s, publicUrl).submission;
  const lines = [`Your submission "${s.modelName}" to ${s.competition.name} ${STATE_WORDS[s.state]}.`, ""];
  if (p.scores) {
    // As the page prints them: the released digits, and the readers only where the scorer has them.
    lines.push(`Mean AUC: ${p.scores.meanAuc.toFixed(s.competition.aucDecimals)}`);
    if (s.competition.scorer === "chexpert") {
      lines.push(
        `Radiologists below the curve: ${p.scores.meanRadsBelowCurve.toFixed(s.competition.radsDecimals)}`,
      );
    }
    lines.push("");
  }
  if (s.failureCategory) lines.push(`Why: ${explainFailure(s.failureCategory).title}`, "");
  lines.push(
    `Details: ${p.url}`,
    "",
    "You receive this because your team asked for e-mail when a submission ends.",
  );
  return { subject: `[Holdout] ${s.modelName} ${STATE_WORDS[s.state]}`, text: lines.join("\n") };
}

/** Organizers see everything, but mail travels far: the message points to the page, it does not quote the fault. */
function organizerMessage(s: EndedSubmission & { state: FinalState }, publicUrl: string | undefined) {
  const text = [
    `A run of submission ${s.id} (team ${s.team.name}, competition ${s.competition.name}) ended as "infrastructure":`,
    "a server-side fault, after its retries. The team is not charged.",
    "",
    `The submission: ${submissionPageUrl(s, publicUrl)}`,
    "The worker's account of the fault is on that page for organizers, and in the worker's log.",
  ].join("\n");
  return { subject: `[Holdout] infrastructure failure: submission ${s.id}`, text };
}
