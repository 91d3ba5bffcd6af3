import { UnrecoverableError, WaitingError, type Job } from "bullmq";
import { EvaluateJobSchema, type EvaluateJob } from "@holdout/contracts";
import { markCancelled, markFailed, returnToQueue } from "@holdout/db";
import { evaluate, type EvaluateDeps } from "../evaluation.ts";
import type { Logger } from "../logger.ts";
import { stopReasonOf, type RunRegistry } from "../run-registry.ts";

export interface EvaluateProcessorDeps extends EvaluateDeps {
  registry: RunRegistry;
  log: Logger;
  /** After a score: refresh the competition's tie marks. Failures are its own to handle. */
  afterScore(competitionId: string, log: Logger): Promise<void>;
}

/**
 * The evaluate queue's processor. A model's fault is a result and the job completes; infrastructure
 * faults throw, so BullMQ retries exactly those (with backoff), and on the last attempt the submission
 * is failed as `infrastructure` (refunded) here, not in an event listener. A cancelled run ends
 * `cancelled`. On shutdown the run is stopped and handed back: the submission returns to `queued` and
 * the job to the wait list without using up an attempt, for this or another worker to take.
 */
export function createEvaluateProcessor(deps: EvaluateProcessorDeps) {
  return async (job: Job<EvaluateJob>, token?: string): Promise<void> => {
    const parsed = EvaluateJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed job payload: ${parsed.error.message}`);
    const { submissionId } = parsed.data;
    const log = deps.log.child({ submissionId, jobId: job.id });
    const signal = deps.registry.begin(submissionId);
    try {
      signal.throwIfAborted();
      const outcome = await evaluate(deps, { submissionId, log, signal });
      if (outcome.kind === "scored") await deps.afterScore(outcome.competitionId, log);
    } catch (err) {
      switch (stopReasonOf(err, signal)) {
        case "cancel":
          await markCancelled(deps.db, submissionId, deps.workerName);
          log.info("run stopped: cancelled by the team");
          return;
        case "shutdown": {
          const returned = await returnToQueue(deps.db, submissionId, {
            worker: deps.workerName,
            detail: `handed back to the queue: worker ${deps.workerName} is shutting down; the run starts again on a worker`,
          });
          if (token === undefined)
            throw new Error("cannot hand a job back without its lock token", { cause: err });
          await job.moveToWait(token);
          log.info({ returned }, "run stopped: handed back to the queue (shutdown)");
          // Tells BullMQ the job was moved, not failed: no attempt is used up.
          throw new WaitingError();
        }
        case undefined:
          break;
      }
      const attempts = job.opts.attempts ?? 1;
      const last = err instanceof UnrecoverableError || job.attemptsMade + 1 >= attempts;
      log.error({ err, attempt: job.attemptsMade + 1, last }, "evaluation failed (infrastructure)");
      if (last) {
        await markFailed(
          deps.db,
          submissionId,
          "infrastructure",
          "the evaluation could not be completed because of a server-side fault; it is not charged to your team",
          deps.workerName,
        );
      }
      throw err;
    } finally {
      deps.registry.end(submissionId);
    }
  };
}
