import { randomUUID } from "node:crypto";
import path from "node:path";
import { UnrecoverableError } from "bullmq";
import {
  assertNever,
  BundleCommandError,
  DEFAULT_BUNDLE_COMMAND,
  hiddenRunFailureText,
  parseBundleCommand,
  type FailureCategory,
} from "@holdout/contracts";
import {
  findSubmission,
  getCompetitionPolicy,
  markCancelled,
  markFailed,
  markScoring,
  noteRunning,
  recordScore,
  saveSubmissionLog,
  startRun,
  type Db,
  type RunPhase,
  type RunStart,
} from "@holdout/db";
import {
  assembleWorkspace,
  removeWorkspace,
  SandboxRejection,
  type ImageLease,
  type RunLimits,
  type RunResult,
  type Sandbox,
  type TrustedImage,
} from "@holdout/sandbox";
import { parsePredictionsCsv, PredictionsError, type BootstrapOptions } from "@holdout/scorer";
import type { DiskSpace } from "./disk-space.ts";
import type { TestsetSource } from "./hidden-testset.ts";
import type { ImageLeases } from "./image-leases.ts";
import { storedLog, type LogPolicy } from "./log-policy.ts";
import type { Logger } from "./logger.ts";
import type { WorkerMetrics } from "./metrics.ts";
import { RunStopped, type Run } from "./run-registry.ts";
import { ladderStep, scoreRecord, splitOf } from "./scoring.ts";
import type { SmokeSample } from "./smoke-sample.ts";

/** A submission put back for want of disk space comes back after this long (to any worker). */
const DISK_RETRY_MS = 60_000;

/** The label on every sandbox object of a submission's runs. */
export const SUBMISSION_LABEL = "holdout.submission";

export interface EvaluateDeps {
  db: Db;
  sandbox: Pick<Sandbox, "loadImage" | "runSubmission">;
  images: ImageLeases;
  /** Applied to the hidden run's log before it is stored for the team to read. */
  hiddenLog: LogPolicy;
  testset: TestsetSource;
  /** The smoke run before every hidden run; null when no development set is configured. */
  smoke: { sample: SmokeSample; limits: RunLimits } | null;
  /** HOLDOUT_DATA_DIR: uploads are under uploads/, extracted bundles where bundleDir says. */
  dataDir: string;
  /** Where this worker assembles bundle workspaces (its own directory: cleared at start). */
  runsDir: string;
  /** The bundles' runtime image, pinned to its ID at start; null when the engine had none. */
  runtimeImage: TrustedImage | null;
  /**
   * Checked before a submission starts: short of space, it goes back to the queue (uncharged)
   * instead of starting a load that cannot fit. Null: not checked.
   */
  disk: Pick<DiskSpace, "shortfall"> | null;
  workerName: string;
  /** How long a run's lease lasts without a heartbeat (HOLDOUT_HEARTBEAT_STALE_SECONDS). */
  leaseMs: number;
  limits: RunLimits;
  /** Labels for every sandbox object of this worker's runs, e.g. `holdout.worker`. */
  labels: Record<string, string>;
  bootstrap: BootstrapOptions;
  /** Removes sandbox objects left by earlier attempts of a submission (by its label). */
  reapPrevious?: (submissionId: string) => Promise<unknown>;
  /** This process's Prometheus metrics (runs by phase and outcome, image loads). */
  metrics?: Pick<WorkerMetrics, "runFinished" | "imageLoaded" | "deferredForSpace">;
}

export interface JobContext {
  submissionId: string;
  log: Logger;
  /**
   * This delivery of the job: its signal is aborted (with a RunStopped reason) when the team cancels,
   * the worker shuts down or the lease is lost; its lease is set once the run holds the submission.
   */
  run: Run;
}

type Model =
  | { kind: "image"; imageId: string; size: number; lease: ImageLease }
  | { kind: "bundle"; imageId: string; size: number; command: string[]; bundleDir: string };

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
 * What the evaluation came to; `scored` names the competition whose tie marks need refreshing, and
 * `deferred` says another run holds a live lease on the submission, until when unless renewed.
 */
export type Outcome =
  | { kind: "scored"; competitionId: string }
  | { kind: "ended" }
  | { kind: "skipped" }
  | { kind: "deferred"; until: Date };

/** A write the database refused because the run no longer holds its lease: the run stops here. */
async function held(written: Promise<boolean>): Promise<void> {
  if (!(await written)) throw new RunStopped("lost");
}

/**
 * Evaluates one submission: prepare the model (load the image, or resolve the runtime image for a
 * bundle), the smoke run on the development-set sample, the hidden run, then scoring. A model's fault
 * is a result (the submission ends `failed` with its category and phase), never an exception; only
 * infrastructure faults throw, and a stop (cancel, shutdown, a lost lease) throws a RunStopped.
 * Every write after the start is conditional on the run's lease (see run-repository.ts in @holdout/db).
 */
export async function evaluate(deps: EvaluateDeps, job: JobContext): Promise<Outcome> {
  const { db, workerName } = deps;
  const { submissionId: id, log } = job;
  const { signal } = job.run;
  const submission = await findSubmission(db, id);
  if (!submission) throw new UnrecoverableError(`submission ${id} does not exist`);
  // Before the run starts (nothing is counted or charged yet): a host short of disk space is the
  // host's fault, and another worker, or this one later, may have room.
  const short = await deps.disk?.shortfall(submission.kind === "image" ? Number(submission.uploadSize) : 0);
  if (short) {
    log.warn({ problem: short }, "not starting: too little free disk space; back to the queue, uncharged");
    deps.metrics?.deferredForSpace();
    return { kind: "deferred", until: new Date(Date.now() + DISK_RETRY_MS) };
  }
  const start = await startRun(db, id, { worker: workerName, leaseMs: deps.leaseMs });
  if (start.lease === null) return notStarted(deps, job, start.refused);
  const lease = start.lease;
  job.run.lease = lease;
  log.info({ kind: submission.kind }, "evaluation started");
  // This worker holds the job now: whatever an earlier attempt of this submission left in the engine
  // (it crashed, or the engine restarted under it) is dead. A first attempt has no predecessor (an
  // attempt is counted before it creates anything), and skips the engine round trips.
  if (submission.attempts > 0) await deps.reapPrevious?.(id);

  const ran = (phase: RunPhase, run: RunResult, outcome: string) =>
    deps.metrics?.runFinished({ phase, outcome, seconds: run.durationMs / 1000 });
  const fail = async (category: FailureCategory, message: string, phase?: RunPhase): Promise<Outcome> => {
    // A hidden run's failure tells the team its category in fixed words: the message could carry
    // what the model read of the test set (its cells, the missing studies, an exit code it chose).
    // Organizers keep the message as the worker saw it.
    const where = phase === "hidden" ? { phase, detail: message } : phase === "smoke" ? { phase } : {};
    const shown = phase === "hidden" ? hiddenRunFailureText(category) : message;
    await held(markFailed(db, id, category, shown, workerName, { holder: lease, ...where }));
    log.info({ category, phase }, "evaluation ended: failed");
    return { kind: "ended" };
  };

  let model: Model;
  if (submission.kind === "bundle") {
    if (!submission.bundleDir) throw new UnrecoverableError(`bundle submission ${id} has no bundleDir`);
    let command: string[];
    try {
      command = parseBundleCommand(submission.command ?? DEFAULT_BUNDLE_COMMAND);
    } catch (err) {
      if (err instanceof BundleCommandError) return fail("invalid_upload", `the command: ${err.message}`);
      throw err;
    }
    const runtime = deps.runtimeImage;
    // A fault of this worker's host (another worker may have the image): retried, then refunded.
    if (!runtime)
      throw new Error("this worker has no runtime image for code bundles (HOLDOUT_RUNTIME_IMAGE)");
    model = {
      kind: "bundle",
      imageId: runtime.imageId,
      size: runtime.size,
      command,
      bundleDir: path.join(deps.dataDir, submission.bundleDir),
    };
  } else {
    if (!submission.uploadFile) throw new UnrecoverableError(`submission ${id} has no upload`);
    const file = path.join(deps.dataDir, "uploads", submission.uploadFile);
    try {
      const started = performance.now();
      const loaded = await deps.images.acquire(id, () => deps.sandbox.loadImage(file));
      deps.metrics?.imageLoaded({
        seconds: (performance.now() - started) / 1000,
        bytes: Number(submission.uploadSize),
      });
      model = { kind: "image", imageId: loaded.imageId, size: loaded.size, lease: loaded.lease };
    } catch (err) {
      if (err instanceof SandboxRejection) return fail("image_rejected", err.reason);
      throw err;
    }
  }

  try {
    signal.throwIfAborted();
    if (deps.smoke) {
      const { sample, limits } = deps.smoke;
      const n = sample.studies.length;
      await held(noteRunning(db, lease, `smoke run started on ${n} development-set studies`));
      const run = await runPhase(
        deps,
        job,
        model,
        { dir: sample.publicDir, owner: "the development-set sample" },
        limits,
      );
      if ("rejected" in run) return await fail("invalid_upload", run.rejected, "smoke");
      // The smoke log is the team's to read in full (the sandbox has already capped it).
      await held(saveSubmissionLog(db, lease, run.log, run.logTruncated, "smoke"));
      if (run.verdict !== "ok") {
        ran("smoke", run, categoryOf(run.verdict));
        return await fail(categoryOf(run.verdict), run.message, "smoke");
      }
      try {
        parsePredictionsCsv((run.predictions ?? Buffer.alloc(0)).toString("utf8"), sample.studies);
      } catch (err) {
        if (!(err instanceof PredictionsError)) throw err;
        ran("smoke", run, "invalid_output");
        return await fail("invalid_output", err.message, "smoke");
      }
      ran("smoke", run, "ok");
      await held(
        noteRunning(db, lease, `smoke run passed: valid predictions for ${n} studies`, {
          smokePassedAt: new Date(),
        }),
      );
      log.info({ ms: run.durationMs }, "smoke run passed");
    }

    signal.throwIfAborted();
    const testset = deps.testset.get();
    await held(noteRunning(db, lease, "hidden run started"));
    const run = await runPhase(
      deps,
      job,
      model,
      { dir: testset.publicDir, owner: "the test set" },
      deps.limits,
    );
    if ("rejected" in run) return await fail("invalid_upload", run.rejected, "hidden");
    // The team's copy as the log policy allows; organizers keep the whole captured log.
    const shown = storedLog(deps.hiddenLog, run.log, run.logTruncated);
    await held(saveSubmissionLog(db, lease, shown.text, shown.truncated, "hidden", run.log));
    if (run.verdict !== "ok") {
      ran("hidden", run, categoryOf(run.verdict));
      return await fail(categoryOf(run.verdict), run.message, "hidden");
    }
    log.info({ ms: run.durationMs }, "hidden run finished");

    signal.throwIfAborted();
    await held(markScoring(db, lease, { digest: model.imageId, size: model.size }));
    let predictions;
    try {
      predictions = parsePredictionsCsv(
        (run.predictions ?? Buffer.alloc(0)).toString("utf8"),
        testset.studies,
      );
    } catch (err) {
      if (!(err instanceof PredictionsError)) throw err;
      ran("hidden", run, "invalid_output");
      return await fail("invalid_output", err.message, "hidden");
    }
    ran("hidden", run, "ok");
    // The competition's split and ladder as they are now (the split is fixed once anything is scored).
    const policy = await getCompetitionPolicy(db, submission.competitionId);
    const split = splitOf(policy);
    const record = scoreRecord(testset, predictions, deps.bootstrap, split);
    signal.throwIfAborted();
    const ladder = policy.ladder ? ladderStep(testset, record, deps.bootstrap, split) : undefined;
    await held(recordScore(db, lease, record, ladder ? { ladder } : {}));
    log.info({ meanAuc: record.meanAuc }, "evaluation ended: scored");
    return { kind: "scored", competitionId: submission.competitionId };
  } finally {
    // Whatever happened, the lease goes; the image with it unless someone else still holds one.
    if (model.kind === "image") await deps.images.release(model.lease);
  }
}

/**
 * Why the run did not start, and what the job does about it. A live lease of another run (a job
 * BullMQ delivered again while its run goes on: a stalled check after a late lock renewal, under
 * load) means waiting until that lease lapses: if its run ends first, the job then finds the
 * submission final; if its worker died, the job takes the submission over.
 */
async function notStarted(
  deps: EvaluateDeps,
  job: JobContext,
  refused: Extract<RunStart, { lease: null }>["refused"],
): Promise<Outcome> {
  const { db, workerName } = deps;
  const { submissionId: id, log } = job;
  if (refused?.heldBy) {
    const { worker, until } = refused.heldBy;
    log.info(
      { holder: worker, until: until.toISOString() },
      "not starting: another run holds this submission's lease; trying again when it lapses",
    );
    return { kind: "deferred", until };
  }
  const unstarted = refused?.state === "queued" || refused?.state === "running";
  if (refused?.cancelRequested && unstarted) {
    if (await markCancelled(db, id, workerName, { holder: "unheld" })) {
      log.info("cancelled before its run began");
      return { kind: "ended" };
    }
  }
  log.info({ state: refused?.state }, "submission no longer runnable; skipping");
  return { kind: "skipped" };
}

/**
 * One run in the sandbox. An image sees `workspace` itself; a bundle sees it and its own files
 * side by side, assembled for this run and removed after it.
 */
async function runPhase(
  deps: EvaluateDeps,
  job: JobContext,
  model: Model,
  workspace: { dir: string; owner: string },
  limits: RunLimits,
): Promise<RunResult | { rejected: string }> {
  let assembled: string | null = null;
  if (model.kind === "bundle") {
    assembled = path.join(deps.runsDir, randomUUID());
    try {
      await assembleWorkspace(assembled, [
        { dir: workspace.dir, owner: workspace.owner },
        { dir: model.bundleDir, owner: "the bundle" },
      ]);
    } catch (err) {
      if (err instanceof SandboxRejection) return { rejected: err.reason };
      throw err;
    }
  }
  try {
    return await deps.sandbox.runSubmission({
      imageId: model.imageId,
      workspaceHostDir: assembled ?? workspace.dir,
      limits,
      labels: { ...deps.labels, [SUBMISSION_LABEL]: job.submissionId },
      signal: job.run.signal,
      ...(model.kind === "bundle" ? { command: model.command } : {}),
    });
  } finally {
    if (assembled) await removeWorkspace(assembled);
  }
}
