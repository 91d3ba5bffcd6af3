import type { Db } from "@holdout/db";
import { runLimits, smokeLimits, type WorkerConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import type { RunRegistry } from "../runtime/run-registry.ts";
import { imageLeasesFor, type ImageLeases } from "./image-leases.ts";
import type { WorkerEngine } from "./open-engine.ts";
import { reapSubmission, startSweeper } from "./sweeper.ts";

/** Who keeps this worker's engine clean: image leases, an earlier attempt's leftovers, sweeps. */
export interface Janitor {
  /** Every lease and release of this worker's images goes through here. */
  images: ImageLeases;
  /** Removes what earlier attempts of a submission left: containers, volume, image leases. */
  reap(submissionId: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the sweeps of what runs could not clean up (every HOLDOUT_RECONCILE_INTERVAL_SECONDS), with
 * the image leases the runs and the sweeps share.
 */
export function startJanitor(
  config: WorkerConfig,
  parts: { engine: WorkerEngine; db: Db; registry: Pick<RunRegistry, "ids">; log: Logger },
): Janitor {
  const { engine, db, log } = parts;
  const images = imageLeasesFor(engine.sandbox, {
    db,
    runsMs: smokeLimits(config).wallClockMs + runLimits(config).wallClockMs,
    log,
  });
  const sweeper = startSweeper(
    {
      docker: engine.docker,
      sandbox: engine.sandbox,
      db,
      registry: parts.registry,
      release: (leases) => images.releaseAll(leases),
      workerLabels: engine.labels,
      log,
    },
    config.HOLDOUT_RECONCILE_INTERVAL_SECONDS * 1000,
  );
  return {
    images,
    reap: (submissionId) => reapSubmission(engine.docker, images, submissionId),
    stop: () => sweeper.stop(),
  };
}
