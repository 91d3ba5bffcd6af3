import path from "node:path";
import { UnrecoverableError } from "bullmq";
import {
  BundleCommandError,
  DEFAULT_BUNDLE_COMMAND,
  hiddenRunFailureText,
  parseBundleCommand,
  type FailureCategory,
} from "@holdout/contracts";
import {
  addSubmissionNote,
  findSubmission,
  findSubmissionPhase,
  getCompetitionPolicy,
  markCancelled,
  markFailed,
  markScoring,
  noteRunning,
  recordScore,
  startRun,
  type Db,
  type RunStart,
} from "@holdout/db";
import {
  SandboxRejection,
  type GpuGrant,
  type RunLimits,
  type Sandbox,
  type TrustedImage,
} from "@holdout/sandbox";
import type { BootstrapOptions } from "@holdout/scorer";
import type { DiskSpace } from "../engine/disk-space.ts";
import type { ImageLeases } from "../engine/image-leases.ts";
import type { Logger } from "../logger.ts";
import type { WorkerMetrics } from "../runtime/metrics.ts";
import type { Run } from "../runtime/run-registry.ts";
import type { HiddenTestset } from "../scoring/hidden-testset.ts";
import { ladderStep, scoreRecord, splitOf } from "../scoring/scores.ts";
import { checkRoom, type SpaceWait } from "./disk-wait.ts";
import type { LogPolicy } from "./log-policy.ts";
import { held, runPhase, type FailRun, type Model, type PhaseRun } from "./phase.ts";
import { limitsRecord, provenanceOf } from "./provenance.ts";
import type { CompetitionSets } from "./competition-sets.ts";

export interface EvaluateDeps {
  db: Db;
  sandbox: Pick<Sandbox, "loadImage" | "runSubmission">;
  images: ImageLeases;
  /** Applied to the hidden run's log before it is stored for the team to read. */
  hiddenLog: LogPolicy;
  /** Every competition's test and development sets, loaded once per content. */
  sets: Pick<CompetitionSets, "forCompetition">;
  /** The smoke run's limits (it runs whenever the competition has a development set). */
  smokeLimits: RunLimits;
  /** HOLDOUT_DATA_DIR: uploads are under uploads/, extracted bundles where bundleDir says. */
  dataDir: string;
  /** Where this worker assembles bundle workspaces (its own directory: cleared at start). */
  runsDir: string;
  /** The bundles' runtime image, pinned to its ID at start; null when the engine had none. */
  runtimeImage: TrustedImage | null;
  /** A competition's own runtime image by its name, by ID from then on; null if the engine has none. */
  resolveRuntime(name: string): Promise<TrustedImage | null>;
  /**
   * Checked before a submission starts: short of space, it goes back to the queue (uncharged)
   * instead of starting a load that cannot fit. Null: not checked.
   */
  disk: Pick<DiskSpace, "shortfall"> | null;
  /** HOLDOUT_DISK_WAIT_SECONDS, in ms: the longest a submission waits for room before it fails. */
  diskWaitMs: number;
  workerName: string;
  /** How long a run's lease lasts without a heartbeat (HOLDOUT_HEARTBEAT_STALE_SECONDS). */
  leaseMs: number;
  limits: RunLimits;
  /** The GPUs every run is granted (HOLDOUT_RUN_GPUS), for the provenance; none when absent. */
  gpu?: GpuGrant | undefined;
  /** Labels for every sandbox object of this worker's runs, e.g. `holdout.worker`. */
  labels: Record<string, string>;
  bootstrap: BootstrapOptions;
  /** Removes sandbox objects left by earlier attempts of a submission (by its label). */
  reapPrevious?: (submissionId: string) => Promise<unknown>;
  /**
   * Whether this worker evaluates the competition's submissions (HOLDOUT_WORKER_COMPETITIONS), with
   * the competition's slug; absent: it serves every competition.
   */
  serves?: (competitionId: string) => Promise<{ serves: boolean; slug: string }>;
  /** A run started on a job of this turn: the queue's fair-share clock moves up to it. */
  turnStarted?: (turn: number | undefined) => Promise<void>;
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
  /** How long the job has waited for a worker with enough free disk space. */
  spaceWait?: SpaceWait;
  /** Since when the job has waited for a worker that serves its competition; undefined: it has not. */
  waitingForWorkerSince?: number | undefined;
  /** The job's turn in the fair share of the queue (its BullMQ priority); undefined: none. */
  turn?: number | undefined;
}

/**
 * What the evaluation came to; `scored` names the competition whose tie marks need refreshing, and
 * `deferred` says until when the job waits: for another run's live lease to lapse unless renewed,
 * or, with `waitingForSpaceSince`, for a worker with room.
 */
export type Outcome =
  | { kind: "scored"; competitionId: string; testset: HiddenTestset }
  | { kind: "ended" }
  | { kind: "skipped" }
  | { kind: "deferred"; until: Date; waitingForSpaceSince?: number; waitingForWorkerSince?: number };

/** A job of a competition this worker does not serve is offered to the other workers again this often. */
const UNSERVED_RETRY_MS = 5_000;

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
  const pinned = await deps.serves?.(submission.competitionId);
  if (pinned && !pinned.serves) {
    // Not this worker's to run, nor to fail: it waits (no attempt used) for one that serves it.
    const since = job.waitingForWorkerSince ?? Date.now();
    if (job.waitingForWorkerSince === undefined) {
      await addSubmissionNote(
        db,
        id,
        `waiting for a worker that serves the competition ${pinned.slug}`,
        workerName,
      );
      log.info({ competition: pinned.slug }, "not starting: this worker does not serve the competition");
    }
    return {
      kind: "deferred",
      until: new Date(Date.now() + UNSERVED_RETRY_MS),
      waitingForWorkerSince: since,
    };
  }
  const room = await checkRoom(deps, job, submission.kind === "image" ? Number(submission.uploadSize) : 0);
  if (room.kind === "wait") return { kind: "deferred", until: room.until, waitingForSpaceSince: room.since };
  if (room.kind === "failed") return { kind: "ended" };
  // Before the run starts: a competition whose sets this worker cannot read takes no lease.
  const inputs = await deps.sets.forCompetition(db, submission.competitionId);
  const phase = await findSubmissionPhase(db, id);
  // A development phase's scored run is on the development set: public data, shown in full.
  const onDev = phase?.data === "development";
  const scored = onDev ? inputs.dev : inputs.hidden;
  if (!scored) {
    throw new UnrecoverableError(
      `competition ${inputs.slug} has a development phase but no development set on this worker`,
    );
  }
  const start = await startRun(db, id, { worker: workerName, leaseMs: deps.leaseMs });
  if (start.lease === null) return notStarted(deps, job, start.refused);
  const lease = start.lease;
  job.run.lease = lease;
  // The fair share's clock only orders later jobs: a failure to move it costs fairness, not the run.
  await deps.turnStarted?.(job.turn).catch((err: unknown) => {
    log.warn({ err }, "could not move the queue's fair-share clock");
  });
  log.info({ kind: submission.kind }, "evaluation started");
  // This worker holds the job now: whatever an earlier attempt of this submission left in the engine
  // (it crashed, or the engine restarted under it) is dead. A first attempt has no predecessor (an
  // attempt is counted before it creates anything), and skips the engine round trips.
  if (submission.attempts > 0) await deps.reapPrevious?.(id);

  const fail: FailRun = async (category, message, runPhase) => {
    // A hidden run's failure tells the team its category in fixed words: the message could carry
    // what the model read of the test set (its cells, the missing studies, an exit code it chose).
    // Organizers keep the message as the worker saw it. On the development set it is shown whole.
    const hiddenData = runPhase === "hidden" && !onDev;
    const where = hiddenData ? { phase: runPhase, detail: message } : runPhase ? { phase: runPhase } : {};
    const shown = hiddenData ? hiddenRunFailureText(category) : message;
    await held(markFailed(db, id, category, shown, workerName, { holder: lease, ...where }));
    log.info({ category, phase: runPhase }, "evaluation ended: failed");
  };
  const ended = async (category: FailureCategory, message: string): Promise<Outcome> => {
    await fail(category, message);
    return { kind: "ended" };
  };

  let model: Model;
  if (submission.kind === "bundle") {
    if (!submission.bundleDir) throw new UnrecoverableError(`bundle submission ${id} has no bundleDir`);
    let command: string[];
    try {
      command = parseBundleCommand(submission.command ?? DEFAULT_BUNDLE_COMMAND);
    } catch (err) {
      if (err instanceof BundleCommandError) return ended("invalid_upload", `the command: ${err.message}`);
      throw err;
    }
    const runtime = inputs.runtimeImage ? await deps.resolveRuntime(inputs.runtimeImage) : deps.runtimeImage;
    // A fault of this worker's host (another worker may have the image): retried, then refunded.
    if (!runtime)
      throw new Error(
        `this worker has no runtime image for code bundles (${inputs.runtimeImage ?? "HOLDOUT_RUNTIME_IMAGE"})`,
      );
    model = {
      kind: "bundle",
      imageId: runtime.imageId,
      size: runtime.size,
      command,
      bundleDir: path.join(deps.dataDir, submission.bundleDir),
      runtimeRef: runtime.ref,
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
      if (err instanceof SandboxRejection) return ended("image_rejected", err.reason);
      throw err;
    }
  }

  const r: PhaseRun = {
    db,
    sandbox: deps.sandbox,
    runsDir: deps.runsDir,
    labels: deps.labels,
    metrics: deps.metrics,
    submissionId: id,
    signal,
    lease,
    model,
    fail,
  };
  let smokeRun: { startedAt: Date; endedAt: Date } | null = null;
  try {
    signal.throwIfAborted();
    if (inputs.dev) {
      const { sample } = inputs.dev;
      const n = sample.studies.length;
      const smoke = await runPhase(r, {
        phase: "smoke",
        workspace: { dir: sample.publicDir, owner: "the development-set sample" },
        limits: deps.smokeLimits,
        studies: sample.studies,
        scorer: inputs.dev.testset.scorer,
        startNote: `smoke run started on ${n} development-set studies`,
        logPolicy: { kind: "full" },
      });
      if (smoke.ended) return { kind: "ended" };
      smokeRun = { startedAt: smoke.startedAt, endedAt: smoke.endedAt };
      await held(
        noteRunning(db, lease, `smoke run passed: valid predictions for ${n} studies`, {
          smokePassedAt: new Date(),
        }),
      );
      log.info({ ms: smoke.run.durationMs }, "smoke run passed");
    }

    signal.throwIfAborted();
    const { testset } = scored;
    // The scored run: on the hidden set, or in a development phase on the whole development set.
    const hidden = await runPhase(r, {
      phase: "hidden",
      workspace: { dir: testset.publicDir, owner: onDev ? "the development set" : "the test set" },
      limits: deps.limits,
      studies: testset.studies,
      scorer: testset.scorer,
      startNote: onDev
        ? `development run started on ${testset.studies.length} development-set studies`
        : "hidden run started",
      logPolicy: onDev ? { kind: "full" } : deps.hiddenLog,
      beforeParse: async () => {
        log.info(onDev ? "development run finished" : "hidden run finished");
        signal.throwIfAborted();
        await held(markScoring(db, lease, { digest: model.imageId, size: model.size }));
      },
    });
    if (hidden.ended) return { kind: "ended" };
    // The competition's split and ladder as they are now (the split is fixed once anything is scored).
    // Both are the hidden set's: a development phase's score is on the whole development set.
    const policy = await getCompetitionPolicy(db, submission.competitionId);
    const split = onDev ? null : splitOf(policy);
    const record = scoreRecord(testset, hidden.predictions, deps.bootstrap, split);
    signal.throwIfAborted();
    const ladder = policy.ladder && !onDev ? ladderStep(testset, record, deps.bootstrap, split) : undefined;
    const provenance = provenanceOf({
      model,
      uploadSha256: submission.uploadSha256,
      scored,
      onDev,
      bootstrap: deps.bootstrap,
      worker: workerName,
      limits: limitsRecord(deps.limits, deps.gpu),
      smoke: smokeRun && { limits: limitsRecord(deps.smokeLimits, deps.gpu), ...smokeRun },
      run: { startedAt: hidden.startedAt, endedAt: hidden.endedAt },
    });
    await held(recordScore(db, lease, record, { provenance, ...(ladder ? { ladder } : {}) }));
    log.info({ meanAuc: record.meanAuc, scorer: testset.scorer.name, onDev }, "evaluation ended: scored");
    return { kind: "scored", competitionId: submission.competitionId, testset: inputs.hidden.testset };
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
