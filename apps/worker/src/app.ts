import type { WorkerConfig } from "./config.ts";
import { startJanitor } from "./engine/janitor.ts";
import { describeWorkerEngine, engineProbes, openEngine } from "./engine/open-engine.ts";
import { createLogger, type Logger } from "./logger.ts";
import { describeInputs, prepareInputs } from "./processors/inputs.ts";
import { queueEndNotice } from "./processors/end-notice.ts";
import { createMailer } from "./processors/mailer.ts";
import { createProcessors } from "./processors/processors.ts";
import { openDatabase } from "./runtime/database.ts";
import { heartbeatFor } from "./runtime/heartbeat.ts";
import { createWorkerMetrics } from "./runtime/metrics.ts";
import { opsFor } from "./runtime/ops-server.ts";
import { listRuntimePackages } from "./runtime/published-settings.ts";
import { openQueues, startJobWorkers } from "./runtime/queues.ts";
import { reconcilerFor } from "./runtime/reconciler.ts";
import { RunRegistry } from "./runtime/run-registry.ts";
import { scheduleFor } from "./runtime/schedule.ts";
import { closeInOrder } from "./runtime/shutdown.ts";

export interface RunningWorker {
  /** Stops taking jobs, hands running evaluations back to the queue, and closes every connection. */
  close(): Promise<void>;
}

/**
 * Builds and starts a worker from its configuration: the composition root, which only builds the
 * parts and wires them (README.md beside this file says which room holds what). Tests call this
 * too, in process, against the real PostgreSQL, Redis and Docker engine.
 */
export async function startWorker(
  config: WorkerConfig,
  log: Logger = createLogger(config.LOG_LEVEL),
): Promise<RunningWorker> {
  // Whatever is missing or broken stops the start before a job is taken: inputs, engine, database.
  const inputs = await prepareInputs(config, log);
  const engine = await openEngine(config, log);
  const { db, competitionId } = await openDatabase(config, log);
  const queues = openQueues(config);
  const registry = new RunRegistry();
  const metrics = createWorkerMetrics({ queues: [queues.evaluate] });
  const janitor = startJanitor(config, { engine, db, registry, log });
  const mailer = createMailer(config.HOLDOUT_SMTP_URL, config.HOLDOUT_SMTP_FROM);
  const processors = createProcessors(config, {
    db,
    engine,
    janitor,
    inputs,
    registry,
    metrics,
    evaluateQueue: queues.evaluate,
    tiesQueue: queues.ties,
    notifyQueue: queues.notify,
    mailer,
    log,
  });
  const [evaluator, rescorer, ties, notifier] = startJobWorkers(config, queues.redis, processors, {
    log,
    metrics,
  });
  const ops = await opsFor(config, {
    db,
    redis: queues.redis,
    metrics,
    log,
    ...engineProbes(engine, config),
  });
  const heartbeat = heartbeatFor(config, {
    db,
    registry,
    log,
    runtimeImageId: engine.facts.runtime?.imageId ?? null,
  });
  const packageListing = listRuntimePackages(config, { db, engine, log });
  const reconciler = reconcilerFor(config, {
    db,
    queue: queues.evaluate,
    competitionId,
    log,
    ended: (id) => queueEndNotice({ db, queue: queues.notify, log }, id),
  });
  const schedule = scheduleFor(config, { db, tiesQueue: queues.ties, log });
  log.info(
    {
      worker: config.HOLDOUT_WORKER_NAME,
      concurrency: config.HOLDOUT_WORKER_CONCURRENCY,
      ops: ops?.url,
      ...describeInputs(inputs),
      ...(await describeWorkerEngine(engine)),
    },
    "worker started",
  );
  // First stop every run (their processors hand the jobs back), then let BullMQ finish them.
  const close = closeInOrder(
    [
      ["runs", () => Promise.resolve(registry.stopAll())],
      ["evaluate worker", () => evaluator.close()],
      ["rescore worker", () => rescorer.close()],
      ["leader-ties worker", () => ties.close()],
      ["notify worker", () => notifier.close()],
      ["mailer", () => Promise.resolve(mailer?.close())],
      ["ops server", async () => ops?.close()],
      ["reconciler", () => reconciler.stop()],
      ["schedule", () => schedule.stop()],
      ["leftover sweeper", () => janitor.stop()],
      ["heartbeat", () => heartbeat.stop()],
      ["runtime package listing", () => packageListing.done],
      ["queues", () => queues.close()],
      ["redis", () => queues.redis.quit()],
      ["database", () => db.$disconnect()],
    ],
    log,
  );
  return { close };
}

export { loadWorkerConfig, type WorkerConfig } from "./config.ts";
export { reconcileOnce, type ReconcileReport, type ReconcilerOptions } from "./runtime/reconciler.ts";
export { refreshLeaderTies } from "./scoring/leader-ties.ts";
export {
  decideTies,
  LADDER_ALPHA,
  ladderImproves,
  ladderStep,
  predictionsCsv,
  scoreRecord,
  splitOf,
  TIE_ALPHA,
} from "./scoring/scores.ts";
export { splitStudies, subsetTestset, pickTasks, type SplitSpec } from "./scoring/split.ts";
export { loadHiddenTestset, type HiddenTestset } from "./scoring/hidden-testset.ts";
