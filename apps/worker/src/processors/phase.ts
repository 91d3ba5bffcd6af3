import { randomUUID } from "node:crypto";
import path from "node:path";
import { assertNever, type FailureCategory } from "@holdout/contracts";
import { noteRunning, saveSubmissionLog, type Db, type RunLease, type RunPhase } from "@holdout/db";
import {
  assembleWorkspace,
  removeWorkspace,
  SandboxRejection,
  type ImageLease,
  type RunLimits,
  type RunResult,
  type Sandbox,
} from "@holdout/sandbox";
import { PredictionsError, type PerTask, type TaskScorer } from "@holdout/scorer";
import { SUBMISSION_LABEL } from "../engine/sweeper.ts";
import type { WorkerMetrics } from "../runtime/metrics.ts";
import { RunStopped } from "../runtime/run-registry.ts";
import { storedLog, type LogPolicy } from "./log-policy.ts";

/** What runs: an uploaded image (leased while it runs), or a bundle in the runtime image. */
export type Model =
  | { kind: "image"; imageId: string; size: number; lease: ImageLease }
  | {
      kind: "bundle";
      imageId: string;
      size: number;
      command: string[];
      bundleDir: string;
      /** The runtime image as configured (its tag); it runs by imageId. */
      runtimeRef: string;
    };

/** A write the database refused because the run no longer holds its lease: the run stops here. */
export async function held(written: Promise<boolean>): Promise<void> {
  if (!(await written)) throw new RunStopped("lost");
}

/** Ends the submission as failed (a model's fault, or an upload the sandbox refused): a result. */
export type FailRun = (category: FailureCategory, message: string, phase?: RunPhase) => Promise<void>;

/** One evaluation's hold on its submission and model, shared by its phases. */
export interface PhaseRun {
  db: Db;
  sandbox: Pick<Sandbox, "runSubmission">;
  /** Where bundle workspaces are assembled (this worker's own directory). */
  runsDir: string;
  /** Labels for every sandbox object of the run (the worker's and the submission's). */
  labels: Record<string, string>;
  metrics?: Pick<WorkerMetrics, "runFinished"> | undefined;
  submissionId: string;
  signal: AbortSignal;
  lease: RunLease;
  model: Model;
  fail: FailRun;
}

/** What differs between the smoke run and the hidden run. */
export interface PhaseSpec {
  phase: RunPhase;
  /** What the model sees at /workspace, and whose it is (named when a bundle's files clash with it). */
  workspace: { dir: string; owner: string };
  limits: RunLimits;
  /** The studies the predictions must hold, and the scorer that reads them (the set's). */
  studies: readonly string[];
  scorer: TaskScorer;
  /** The timeline line as the run starts. */
  startNote: string;
  /** What the team reads of the log; unless `full`, organizers keep the whole log beside it. */
  logPolicy: LogPolicy;
  /** After a run that ended well, before its output is read (the hidden run moves to `scoring`). */
  beforeParse?: () => Promise<void>;
}

/**
 * A phase ended the evaluation (the submission failed), or the model's valid predictions with when
 * its container run started and ended (the provenance's timings).
 */
export type PhaseResult =
  | { ended: true }
  | {
      ended: false;
      run: RunResult;
      predictions: PerTask<Float64Array, string>;
      startedAt: Date;
      endedAt: Date;
    };

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
 * One phase of an evaluation, smoke or hidden alike: run the model in the sandbox, keep its log as
 * the phase's policy says, turn the verdict into a failure category or read its predictions, and
 * count the run in the metrics. The model's faults end the submission here (`ended`); only
 * infrastructure faults and stops throw.
 */
export async function runPhase(r: PhaseRun, spec: PhaseSpec): Promise<PhaseResult> {
  const { phase } = spec;
  await held(noteRunning(r.db, r.lease, spec.startNote));
  const startedAt = new Date();
  const run = await runInSandbox(r, spec.workspace, spec.limits);
  const endedAt = new Date();
  if ("rejected" in run) {
    await r.fail("invalid_upload", run.rejected, phase);
    return { ended: true };
  }
  const shown = storedLog(spec.logPolicy, run.log, run.logTruncated);
  const whole = spec.logPolicy.kind === "full" ? undefined : run.log;
  await held(saveSubmissionLog(r.db, r.lease, shown.text, shown.truncated, phase, whole));
  const finished = (outcome: string) =>
    r.metrics?.runFinished({ phase, outcome, seconds: run.durationMs / 1000 });
  if (run.verdict !== "ok") {
    const category = categoryOf(run.verdict);
    finished(category);
    await r.fail(category, run.message, phase);
    return { ended: true };
  }
  await spec.beforeParse?.();
  let predictions;
  try {
    const text = (run.predictions ?? Buffer.alloc(0)).toString("utf8");
    predictions = spec.scorer.parsePredictions(text, spec.studies);
  } catch (err) {
    if (!(err instanceof PredictionsError)) throw err;
    finished("invalid_output");
    await r.fail("invalid_output", err.message, phase);
    return { ended: true };
  }
  finished("ok");
  return { ended: false, run, predictions, startedAt, endedAt };
}

/**
 * One run in the sandbox. An image sees `workspace` itself; a bundle sees it and its own files
 * side by side, assembled for this run and removed after it.
 */
async function runInSandbox(
  r: PhaseRun,
  workspace: { dir: string; owner: string },
  limits: RunLimits,
): Promise<RunResult | { rejected: string }> {
  const { model } = r;
  let assembled: string | null = null;
  if (model.kind === "bundle") {
    assembled = path.join(r.runsDir, randomUUID());
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
    return await r.sandbox.runSubmission({
      imageId: model.imageId,
      workspaceHostDir: assembled ?? workspace.dir,
      limits,
      labels: { ...r.labels, [SUBMISSION_LABEL]: r.submissionId },
      signal: r.signal,
      ...(model.kind === "bundle" ? { command: model.command } : {}),
    });
  } finally {
    if (assembled) await removeWorkspace(assembled);
  }
}
