import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { ConfigError } from "@holdout/contracts";
import type { WorkerConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import { CompetitionSets, type CompetitionInputs } from "./competition-sets.ts";

/** What the runs read and where they write, prepared once at start. */
export interface RunInputs {
  /** Every competition's sets, loaded once per content and kept. */
  sets: CompetitionSets;
  /** The configured sets (HOLDOUT_TESTSET_DIR, HOLDOUT_DEVSET_DIR), as loaded at start. */
  configured: Pick<CompetitionInputs, "hidden" | "dev">;
  /** This worker's own scratch directory for bundle workspaces. */
  runsDir: string;
}

const asConfigError = (variable: string) => (err: unknown) => {
  throw new ConfigError("the worker", [`${variable}: ${err instanceof Error ? err.message : String(err)}`]);
};

/**
 * Loads the configured test set's labels and builds the smoke sample before any job is taken: a
 * missing or broken set is a configuration problem, said plainly, and the worker does not start.
 * Competitions that name their own sets have them loaded on their first job.
 */
export async function prepareInputs(config: WorkerConfig, log: Logger): Promise<RunInputs> {
  const sets = new CompetitionSets({
    configured: {
      testset: { key: "configured:HOLDOUT_TESTSET_DIR", dir: config.HOLDOUT_TESTSET_DIR },
      devset: config.HOLDOUT_DEVSET_DIR
        ? { key: "configured:HOLDOUT_DEVSET_DIR", dir: config.HOLDOUT_DEVSET_DIR }
        : null,
    },
    smokeStudies: config.HOLDOUT_SMOKE_STUDIES,
    workDir: config.HOLDOUT_WORK_DIR,
    log,
  });
  const hidden = await sets.configuredHidden().catch(asConfigError("HOLDOUT_TESTSET_DIR"));
  const dev = await sets.configuredDev(hidden).catch(asConfigError("HOLDOUT_DEVSET_DIR"));
  if (!dev) log.warn("HOLDOUT_DEVSET_DIR is not set: submissions go to the hidden run without a smoke run");
  // Whatever a crash left in this worker's scratch directory goes now.
  const runsDir = path.join(
    config.HOLDOUT_WORK_DIR,
    "runs",
    config.HOLDOUT_WORKER_NAME.replace(/[^\w.-]/g, "_"),
  );
  await rm(runsDir, { recursive: true, force: true });
  await mkdir(runsDir, { recursive: true });
  return { sets, configured: { hidden, dev }, runsDir };
}

/** The inputs' part of the start log line. */
export function describeInputs(inputs: RunInputs) {
  const { hidden, dev } = inputs.configured;
  return {
    studies: hidden.testset.studies.length,
    readers: hidden.testset.readers.length,
    scorer: hidden.testset.scorer.name,
    smokeStudies: dev?.sample.studies.length ?? 0,
  };
}
