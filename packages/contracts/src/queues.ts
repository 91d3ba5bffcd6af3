import {
  Queue,
  Worker,
  type ConnectionOptions,
  type JobsOptions,
  type Processor,
  type QueueOptions,
  type WorkerOptions,
} from "bullmq";
import { z } from "zod";

// The queues between the API (and the CLI) and the workers: each name with its payload, and the
// factories that pair them, so no app pairs a name with a payload type by hand. Evaluate job ids
// are submission ids, so a submission can never be queued twice, whatever retries or re-enqueues
// happen (docs/architecture.md, "The queue").
export const QUEUE_EVALUATE = "evaluate";

export const EvaluateJobSchema = z.object({
  submissionId: z.uuid(),
  /**
   * Set by a worker that put the job back for want of disk space (ms since the epoch, the first such
   * time in a row): past the worker's HOLDOUT_DISK_WAIT_SECONDS the submission fails, refunded.
   */
  waitingForSpaceSince: z.number().int().positive().optional(),
  /**
   * Set by a worker pinned to other competitions (HOLDOUT_WORKER_COMPETITIONS) that put the job back
   * for one that serves its competition: when that wait began (ms since the epoch), so the
   * submission's timeline says so once, not at every hand-back.
   */
  waitingForWorkerSince: z.number().int().positive().optional(),
});
export type EvaluateJob = z.infer<typeof EvaluateJobSchema>;

/**
 * Re-scoring: the worker scores a scored submission's stored predictions again against the test set
 * as it is now (after a label correction, say), without running the model. Job ids are
 * `rescore:<submissionId>:<request time>`, so each organizer request is one job.
 */
export const QUEUE_RESCORE = "rescore";

export const RescoreJobSchema = z.object({
  submissionId: z.uuid(),
  requestedBy: z.string().min(1).max(200),
});
export type RescoreJob = z.infer<typeof RescoreJobSchema>;

/**
 * Recomputing the "statistically tied with the leader" marks of a competition's listed entries. The
 * worker does it after each score and re-score; the API enqueues it when an entry is hidden, shown,
 * disqualified or requalified (only workers hold the labels the paired bootstrap needs). Runs of one
 * competition are serialized by the worker, so any number of these jobs is safe.
 */
export const QUEUE_LEADER_TIES = "leader-ties";

export const LeaderTiesJobSchema = z.object({
  competitionId: z.uuid(),
  /** Why, for the worker's log (e.g. "submission … hidden"). */
  reason: z.string().max(200).optional(),
});
export type LeaderTiesJob = z.infer<typeof LeaderTiesJobSchema>;

/**
 * Notifications of a submission's end (docs/architecture.md, "Notifications"): `ended` fans out to
 * the team's webhooks and e-mail (and to organizers on an `infrastructure` failure); `webhook`
 * delivers one webhook delivery (its row holds the body; the secret never travels in a job);
 * `email` sends one message. A notification's failure never touches the submission.
 */
export const QUEUE_NOTIFY = "notify";

export const NotifyJobSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("ended"), submissionId: z.uuid() }),
  z.object({ kind: z.literal("webhook"), deliveryId: z.uuid() }),
  z.object({ kind: z.literal("email"), submissionId: z.uuid(), to: z.enum(["team", "organizers"]) }),
]);
export type NotifyJob = z.infer<typeof NotifyJobSchema>;

export interface QueuePayloads {
  [QUEUE_EVALUATE]: EvaluateJob;
  [QUEUE_RESCORE]: RescoreJob;
  [QUEUE_LEADER_TIES]: LeaderTiesJob;
  [QUEUE_NOTIFY]: NotifyJob;
}
export type QueueName = keyof QueuePayloads;

/** A queue whose jobs carry its name's payload; a job is named after its queue. */
export type TypedQueue<N extends QueueName> = Queue<QueuePayloads[N], unknown, N>;
export type TypedWorker<N extends QueueName> = Worker<QueuePayloads[N], void, N>;
/** A worker of any of the queues (what metrics and shutdown handle alike). */
export type AnyWorker = { [N in QueueName]: TypedWorker<N> }[QueueName];
export type EvaluateQueue = TypedQueue<typeof QUEUE_EVALUATE>;
export type RescoreQueue = TypedQueue<typeof QUEUE_RESCORE>;
export type LeaderTiesQueue = TypedQueue<typeof QUEUE_LEADER_TIES>;
export type NotifyQueue = TypedQueue<typeof QUEUE_NOTIFY>;
/** What a worker runs for each job of queue N (a model's fault is a result: it returns). */
export type JobProcessor<N extends QueueName> = Processor<QueuePayloads[N], void, N>;

/**
 * The queue `name` on `connection`. Every process that shares work must pass the same `prefix`
 * (HOLDOUT_QUEUE_PREFIX): the API, the CLI and the workers meet under it.
 */
export function createQueue<N extends QueueName>(
  connection: ConnectionOptions,
  name: N,
  opts: Omit<QueueOptions, "connection"> = {},
): TypedQueue<N> {
  return new Queue<QueuePayloads[N], unknown, N>(name, { ...opts, connection });
}

/**
 * A worker taking the jobs of queue `name`. Its connection must retry forever
 * (`maxRetriesPerRequest: null`): a worker blocks on Redis, and a failed command would end its loop.
 */
export function createWorker<N extends QueueName>(
  connection: ConnectionOptions,
  name: N,
  processor: JobProcessor<N>,
  opts: Omit<WorkerOptions, "connection"> = {},
): TypedWorker<N> {
  return new Worker<QueuePayloads[N], void, N>(name, processor, { ...opts, connection });
}

/**
 * Options for every evaluate job, whoever enqueues it (the API, or a reconciler later, through
 * addEvaluateJob); `priority`: the team's fair-share turn from fairPriority (fair-share.ts), or none
 * (taken before any that has one).
 */
export function evaluateJobOptions(submissionId: string, priority?: number): JobsOptions {
  return {
    jobId: submissionId,
    ...(priority ? { priority } : {}),
    // Only infrastructure faults throw; a model's fault is a result, so these retries never
    // re-run a model that failed on its own.
    attempts: 3,
    backoff: { type: "exponential", delay: 5_000 },
    removeOnComplete: { age: 24 * 3600, count: 1000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

/** Options for a re-score job: `rescore:<submissionId>:<request time in ms>`; no retry of a model run. */
export function rescoreJobOptions(submissionId: string, requestedAt = Date.now()): JobsOptions {
  return {
    jobId: `rescore:${submissionId}:${requestedAt}`,
    attempts: 3,
    backoff: { type: "exponential", delay: 5_000 },
    removeOnComplete: { age: 24 * 3600, count: 1000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

/**
 * Options for a tie-marks job: `ties:<competitionId>:<request time in ms>`, one job per change (an id
 * shared by all would drop a change that arrives while the previous job runs). The worker serializes
 * the runs of one competition, and each reads the state as it is when it runs.
 */
export function leaderTiesJobOptions(competitionId: string, requestedAt = Date.now()): JobsOptions {
  return {
    jobId: `ties:${competitionId}:${requestedAt}`,
    attempts: 3,
    backoff: { type: "exponential", delay: 2_000 },
    removeOnComplete: true,
    removeOnFail: { age: 24 * 3600 },
  };
}

/**
 * Options for a notification job. Ids are deterministic (`ended-<submission>`, `webhook-<delivery>`,
 * `email-<to>-<submission>`; BullMQ refuses a `:` in most ids), so a submission's end enqueued twice
 * is one job while it is kept.
 * `retry` is how many tries and the first backoff: a webhook's come from the worker's settings.
 */
export function notifyJobOptions(job: NotifyJob, retry = { attempts: 5, delayMs: 10_000 }): JobsOptions {
  const jobId =
    job.kind === "ended"
      ? `ended-${job.submissionId}`
      : job.kind === "webhook"
        ? `webhook-${job.deliveryId}`
        : `email-${job.to}-${job.submissionId}`;
  return {
    jobId,
    attempts: retry.attempts,
    backoff: { type: "exponential", delay: retry.delayMs },
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}
