import type { JobsOptions } from "bullmq";
import { z } from "zod";

// The typed map from queue name to job payload. Job ids are submission ids, so a submission
// can never be queued twice, whatever retries or re-enqueues happen.
export const QUEUE_EVALUATE = "evaluate";

export const EvaluateJobSchema = z.object({
  submissionId: z.uuid(),
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

export interface QueuePayloads {
  [QUEUE_EVALUATE]: EvaluateJob;
  [QUEUE_RESCORE]: RescoreJob;
  [QUEUE_LEADER_TIES]: LeaderTiesJob;
}

/** Options for every evaluate job, whoever enqueues it (the API, or a reconciler later). */
export function evaluateJobOptions(submissionId: string): JobsOptions {
  return {
    jobId: submissionId,
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
