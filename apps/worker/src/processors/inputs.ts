import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { ConfigError } from "@holdout/contracts";
import type { WorkerConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import { loadHiddenTestset, TestsetSource } from "../scoring/hidden-testset.ts";
import { prepareSmokeSample, type SmokeSample } from "./smoke-sample.ts";

/** What the runs read and where they write, prepared once at start. */
export interface RunInputs {
  testset: TestsetSource;
  /** The development-set sample of the smoke run; null without HOLDOUT_DEVSET_DIR (no smoke run). */
  smokeSample: SmokeSample | null;
  /** This worker's own scratch directory for bundle workspaces. */
  runsDir: string;
}

const asConfigError = (variable: string) => (err: unknown) => {
  throw new ConfigError("the worker", [`${variable}: ${err instanceof Error ? err.message : String(err)}`]);
};

/**
 * Loads the hidden test set's labels and builds the smoke sample before any job is taken: a missing
 * or broken set is a configuration problem, said plainly, and the worker does not start.
 */
export async function prepareInputs(config: WorkerConfig, log: Logger): Promise<RunInputs> {
  const testset = new TestsetSource(
    config.HOLDOUT_TESTSET_DIR,
    await loadHiddenTestset(config.HOLDOUT_TESTSET_DIR).catch(asConfigError("HOLDOUT_TESTSET_DIR")),
  );
  const smokeSample = config.HOLDOUT_DEVSET_DIR
    ? await prepareSmokeSample(
        config.HOLDOUT_DEVSET_DIR,
        config.HOLDOUT_SMOKE_STUDIES,
        config.HOLDOUT_WORK_DIR,
      ).catch(asConfigError("HOLDOUT_DEVSET_DIR"))
    : null;
  if (!smokeSample)
    log.warn("HOLDOUT_DEVSET_DIR is not set: submissions go to the hidden run without a smoke run");
  // Whatever a crash left in this worker's scratch directory goes now.
  const runsDir = path.join(
    config.HOLDOUT_WORK_DIR,
    "runs",
    config.HOLDOUT_WORKER_NAME.replace(/[^\w.-]/g, "_"),
  );
  await rm(runsDir, { recursive: true, force: true });
  await mkdir(runsDir, { recursive: true });
  return { testset, smokeSample, runsDir };
}

/** The inputs' part of the start log line. */
export function describeInputs(inputs: RunInputs) {
  const testset = inputs.testset.get();
  return {
    studies: testset.studies.length,
    readers: testset.readers.length,
    smokeStudies: inputs.smokeSample?.studies.length ?? 0,
  };
}
