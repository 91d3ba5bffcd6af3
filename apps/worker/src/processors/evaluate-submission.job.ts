import { DelayedError, UnrecoverableError, WaitingError, type Job } from "bullmq";
import { assertNever, EvaluateJobSchema, type EvaluateJob } from "@holdout/contracts";
import { markCancelled, markFailed, releaseRun, returnToQueue } from "@holdout/db";
import { evaluate, type EvaluateDeps, type Outcome } from "./evaluation.ts";
import type { Logger } from "../logger.ts";
import type { HiddenTestset } from "../scoring/hidden-testset.ts";
import { stopReasonOf, type Run, type RunRegistry } from "../runtime/run-registry.ts";

export interface EvaluateProcessorDeps extends EvaluateDeps {
  registry: RunRegistry;
  log: Logger;
  /** After a score: refresh the competition's tie marks on its test set. Failures are its own to handle. */
  afterScore(competitionId: string, testset: HiddenTestset, log: Logger): Promise<void>;
}

/** A deferred job comes back this long after the lease it waits for lapses, and never sooner than this. */
const DEFER_MARGIN_MS = 1_000;

/**
 * The evaluate queue's processor. A model's fault is a result and the job completes; infrastructure
 * faults throw, so BullMQ retries exactly those (with backoff), and on the last attempt the submission
 * is failed as `infrastructure` (refunded) here, not in an event listener. A cancelled run ends
 * `cancelled`. On shutdown the run is stopped and handed back: the submission returns to `queued` and
 * the job to the wait list without using up an attempt, for this or another worker to take. A job
 * whose submission another run still holds waits (delayed, no attempt used) until that run's lease
 * would lapse; one put back for want of disk space keeps in its payload since when it has waited
 * (see disk-wait.ts).
 */
export function createEvaluateProcessor(deps: EvaluateProcessorDeps) {
  return async (job: Job<EvaluateJob>, token?: string): Promise<void> => {
    const parsed = EvaluateJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed job payload: ${parsed.error.message}`);
    const { submissionId, waitingForSpaceSince, waitingForWorkerSince } = parsed.data;
    const log = deps.log.child({ submissionId, jobId: job.id });
    const run = deps.registry.begin(submissionId);
    // The wait for disk space is the job's, kept in its payload across the workers that defer it.
    const spaceWait = { since: waitingForSpaceSince, end: () => job.updateData({ submissionId }) };
    let outcome: Outcome;
    try {
      run.signal.throwIfAborted();
      outcome = await evaluate(deps, {
        submissionId,
        log,
        run,
        spaceWait,
        waitingForWorkerSince,
        turn: job.opts.priority,
      });
    } catch (err) {
      return await afterFailure(deps, { job, token, log, run }, err);
    } finally {
      // Before the tie marks are refreshed: the run holds nothing any more.
      deps.registry.end(run);
    }
    switch (outcome.kind) {
      case "scored":
        await deps.afterScore(outcome.competitionId, outcome.testset, log);
        return;
      case "ended":
      case "skipped":
        return;
      case "deferred": {
        if (token === undefined) throw new Error("cannot delay a job without its lock token");
        const since = outcome.waitingForSpaceSince;
        const pinnedSince = outcome.waitingForWorkerSince;
        if (
          (since !== undefined && since !== waitingForSpaceSince) ||
          (pinnedSince !== undefined && pinnedSince !== waitingForWorkerSince)
        )
          await job.updateData({
            submissionId,
            ...(since !== undefined ? { waitingForSpaceSince: since } : {}),
            ...(pinnedSince !== undefined ? { waitingForWorkerSince: pinnedSince } : {}),
          });
        const at = Math.max(outcome.until.getTime(), Date.now()) + DEFER_MARGIN_MS;
        await job.moveToDelayed(at, token);
        // Tells BullMQ the job was moved, not failed: no attempt is used up.
        throw new DelayedError();
      }
      default:
        return assertNever(outcome);
    }
  };
}

/** A run that threw: stopped from outside, or an infrastructure fault. Returns or rethrows for BullMQ. */
async function afterFailure(
  deps: EvaluateProcessorDeps,
  ctx: { job: Job<EvaluateJob>; token: string | undefined; log: Logger; run: Run },
  err: unknown,
): Promise<void> {
  const { job, token, log, run } = ctx;
  const id = run.submissionId;
  const stopped = stopReasonOf(err, run.signal);
  switch (stopped) {
    case "cancel":
      if (run.lease) await markCancelled(deps.db, id, deps.workerName, { holder: run.lease });
      log.info("run stopped: cancelled by the team");
      return;
    case "shutdown": {
      const returned = run.lease
        ? await returnToQueue(deps.db, id, {
            holder: run.lease,
            worker: deps.workerName,
            detail: `handed back to the queue: worker ${deps.workerName} is shutting down; the run starts again on a worker`,
          })
        : false;
      if (token === undefined)
        throw new Error("cannot hand a job back without its lock token", { cause: err });
      await job.moveToWait(token);
      log.info({ returned }, "run stopped: handed back to the queue (shutdown)");
      // Tells BullMQ the job was moved, not failed: no attempt is used up.
      throw new WaitingError();
    }
    case "lost":
      return lost(log);
    case undefined:
      break;
    default:
      return assertNever(stopped);
  }
  const attempts = job.opts.attempts ?? 1;
  const last = err instanceof UnrecoverableError || job.attemptsMade + 1 >= attempts;
  if (last) {
    // No lease: the run failed before it began; then only while no other run holds the submission.
    const failed = await markFailed(
      deps.db,
      id,
      "infrastructure",
      "the evaluation could not be completed because of a server-side fault; it is not charged to your team",
      deps.workerName,
      { holder: run.lease ?? "unheld" },
    );
    if (!failed && run.lease) return lost(log, err);
  } else if (run.lease) {
    // The retry may start at once rather than wait for this run's lease to lapse. If this write
    // fails too (the database is the fault), the lease lapses on its own.
    const released = await releaseRun(deps.db, run.lease).catch((releaseErr: unknown) => {
      log.warn({ err: releaseErr }, "could not give up the run's lease; the retry waits for it to lapse");
      return true;
    });
    // A run that another took over fails as its containers are removed under it: not a fault to retry.
    if (!released) return lost(log, err);
  }
  log.error({ err, attempt: job.attemptsMade + 1, last }, "evaluation failed (infrastructure)");
  throw err;
}

/**
 * Its lease lapsed (this worker was starved or cut off from the database for longer than the lease)
 * and another run took the submission over, or the reconciler gave it back: that run's results
 * count, and this one has written nothing since. The job is the other run's now: nothing to retry.
 */
function lost(log: Logger, err?: unknown): void {
  log.warn({ err }, "run stopped: it no longer holds the submission's lease; another run has taken over");
}
