import path from "node:path";
import { UnrecoverableError, type Job } from "bullmq";
import { assertNever, EvaluateJobSchema, type EvaluateJob, type FailureCategory } from "@holdout/contracts";
import {
  findSubmission,
  markFailed,
  markRunning,
  markScoring,
  recordScore,
  saveSubmissionLog,
  type Db,
} from "@holdout/db";
import type { RunResult, Sandbox } from "@holdout/sandbox";
import { SandboxRejection } from "@holdout/sandbox";
import { parsePredictionsCsv, PredictionsError, scoreTasks } from "@holdout/scorer";
import type { HiddenTestset } from "../hidden-testset.ts";
import type { ImageLeases } from "../image-leases.ts";
import { storedLog, type LogPolicy } from "../log-policy.ts";
import type { Logger } from "../logger.ts";

export interface EvaluateDeps {
  db: Db;
  sandbox: Pick<Sandbox, "loadImage" | "runSubmission">;
  images: ImageLeases;
  /** Applied to the hidden run's log before it is stored for the team to read. */
  hiddenLog: LogPolicy;
  testset: HiddenTestset;
  uploadsDir: string;
  workerName: string;
  limits: Parameters<Sandbox["runSubmission"]>[0]["limits"];
  /** Labels for every sandbox object of this worker's runs, e.g. `holdout.worker`. */
  labels: Record<string, string>;
  log: Logger;
}

type Verdict = Exclude<RunResult["verdict"], "ok">;

function categoryOf(verdict: Verdict): FailureCategory {
  switch (verdict) {
    case "timeout":
      return "timeout";
    case "out_of_memory":
      return "out_of_memory";
    case "nonzero_exit":
      return "nonzero_exit";
    case "no_output":
      return "no_output";
    default:
      return assertNever(verdict);
  }
}

/**
 * Evaluates one submission: load its image, run it in the sandbox, score its predictions.
 * A model's fault is a result (the submission ends `failed` with a category), never an exception;
 * only infrastructure faults throw, so BullMQ retries exactly those. On the last attempt the
 * submission is failed as `infrastructure` here, in the processor, not in an event listener.
 */
export function createEvaluateProcessor(deps: EvaluateDeps) {
  return async (job: Job<EvaluateJob>): Promise<void> => {
    const parsed = EvaluateJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed job payload: ${parsed.error.message}`);
    const { submissionId } = parsed.data;
    try {
      await evaluate(deps, submissionId);
    } catch (err) {
      const attempts = job.opts.attempts ?? 1;
      const last = err instanceof UnrecoverableError || job.attemptsMade + 1 >= attempts;
      deps.log.error({ err, submissionId, attempt: job.attemptsMade + 1, last }, "evaluation failed");
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
    }
  };
}

async function evaluate(deps: EvaluateDeps, submissionId: string): Promise<void> {
  const { db, sandbox, workerName } = deps;
  const submission = await findSubmission(db, submissionId);
  if (!submission) throw new UnrecoverableError(`submission ${submissionId} does not exist`);
  if (!(await markRunning(db, submissionId, workerName))) {
    deps.log.info({ submissionId, state: submission.state }, "submission no longer runnable; skipping");
    return;
  }
  if (!submission.uploadFile) throw new UnrecoverableError(`submission ${submissionId} has no upload`);

  let loaded: { imageId: string; size: number; preexisting: boolean };
  try {
    const file = path.join(deps.uploadsDir, submission.uploadFile);
    loaded = await deps.images.acquire(() => sandbox.loadImage(file));
  } catch (err) {
    if (err instanceof SandboxRejection) {
      await markFailed(db, submissionId, "image_rejected", err.reason, workerName);
      return;
    }
    throw err;
  }
  const imageId = loaded.imageId;
  try {
    const run = await sandbox.runSubmission({
      imageId,
      workspaceHostDir: deps.testset.publicDir,
      limits: deps.limits,
      labels: { ...deps.labels, "holdout.submission": submissionId },
    });
    const log = storedLog(deps.hiddenLog, run.log, run.logTruncated);
    await saveSubmissionLog(db, submissionId, log.text, log.truncated);
    if (run.verdict !== "ok") {
      await markFailed(db, submissionId, categoryOf(run.verdict), run.message, workerName);
      return;
    }
    if (!run.predictions) {
      await markFailed(db, submissionId, "no_output", "the model wrote no /out/predictions.csv", workerName);
      return;
    }

    await markScoring(db, submissionId, workerName, { digest: imageId, size: loaded.size });
    let predictions;
    try {
      predictions = parsePredictionsCsv(run.predictions.toString("utf8"), deps.testset.studies);
    } catch (err) {
      if (err instanceof PredictionsError) {
        await markFailed(db, submissionId, "invalid_output", err.message, workerName);
        return;
      }
      throw err;
    }
    const result = scoreTasks({ truth: deps.testset.truth, predictions, readers: deps.testset.readers });
    await recordScore(db, submissionId, result, workerName);
  } finally {
    // Whatever happened, the image goes once no other evaluation of ours needs it.
    await deps.images.release(imageId);
  }
}
