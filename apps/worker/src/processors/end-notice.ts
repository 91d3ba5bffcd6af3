import type { Job } from "bullmq";
import { notifyJobOptions, QUEUE_NOTIFY, type NotifyQueue } from "@holdout/contracts";
import { findSubmissionState, type Db } from "@holdout/db";
import type { Logger } from "../logger.ts";
import { isFinal } from "./notify-payload.ts";

/**
 * Wraps a processor of a submission's job (evaluate): once a run of it has settled, however it
 * settled, a submission now final gets its notifications queued (`ended-<id>`, one job while it is
 * kept, so the runs of a retried job add it once). Queuing comes after the state is written and
 * its failure is only logged: the processor's own outcome, and the submission's state, are never
 * touched by it. The job sits in Redis, so a worker that restarts meanwhile loses nothing.
 */
export function withEndNotice<J extends Job<{ submissionId: string }>, A extends unknown[]>(
  processor: (job: J, ...rest: A) => Promise<void>,
  deps: { db: Db; queue: Pick<NotifyQueue, "add">; log: Logger },
) {
  return async (job: J, ...rest: A): Promise<void> => {
    try {
      await processor(job, ...rest);
    } finally {
      await queueEndNotice(deps, job.data.submissionId);
    }
  };
}

/** Queues a submission's notifications if it is final; a failure to do so is logged, never thrown. */
export async function queueEndNotice(
  deps: { db: Db; queue: Pick<NotifyQueue, "add">; log: Logger },
  submissionId: string,
): Promise<void> {
  try {
    const state = await findSubmissionState(deps.db, submissionId);
    if (state === null || !isFinal(state)) return;
    const job = { kind: "ended", submissionId } as const;
    await deps.queue.add(QUEUE_NOTIFY, job, notifyJobOptions(job));
  } catch (err) {
    deps.log.error({ err, submissionId }, "could not queue the notifications of a submission's end");
  }
}
