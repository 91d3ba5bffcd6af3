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

export interface QueuePayloads {
  [QUEUE_EVALUATE]: EvaluateJob;
  [QUEUE_RESCORE]: RescoreJob;
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
