import path from "node:path";
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { ConfigError, QUEUE_EVALUATE, type EvaluateJob } from "@holdout/contracts";
import { createDb } from "@holdout/db";
import { connectDocker, reapLeftovers, Sandbox } from "@holdout/sandbox";
import { runLimits, tarballLimits, type WorkerConfig } from "./config.ts";
import { loadHiddenTestset } from "./hidden-testset.ts";
import { ImageLeases } from "./image-leases.ts";
import { createEvaluateProcessor } from "./jobs/evaluate-submission.job.ts";
import { createLogger, type Logger } from "./logger.ts";

export interface RunningWorker {
  close(): Promise<void>;
}

/**
 * Builds and starts a worker from its configuration. Tests call this too, in process, against
 * the real PostgreSQL, Redis and Docker engine.
 */
export async function startWorker(
  config: WorkerConfig,
  log: Logger = createLogger(config.LOG_LEVEL),
): Promise<RunningWorker> {
  const testset = await loadHiddenTestset(config.HOLDOUT_TESTSET_DIR).catch((err: unknown) => {
    // A missing or broken test set is a configuration problem: say so plainly and stop.
    throw new ConfigError("the worker", [
      `HOLDOUT_TESTSET_DIR: ${err instanceof Error ? err.message : String(err)}`,
    ]);
  });
  const docker = connectDocker({ socketPath: config.DOCKER_SOCKET });
  const workerLabels = { "holdout.worker": config.HOLDOUT_WORKER_NAME };
  // Before taking a job: what a crashed worker left. Runs that are certainly over (past their
  // deadline label) whoever made them, and anything carrying this worker's own name (a restart
  // under the same name); the live runs of other workers on this engine are left alone.
  const reaped = [
    await reapLeftovers(docker, {}, { expiredBefore: Date.now() }),
    await reapLeftovers(docker, workerLabels),
  ];
  const sandbox = new Sandbox(docker, {
    keeperImage: config.HOLDOUT_KEEPER_IMAGE,
    tarballLimits: tarballLimits(config),
    ...(config.HOLDOUT_IMAGE_ARCH ? { architecture: config.HOLDOUT_IMAGE_ARCH } : {}),
    ...(config.HOLDOUT_RUN_CPUSET ? { cores: config.HOLDOUT_RUN_CPUSET } : {}),
    ...(config.HOLDOUT_RUN_GPUS ? { gpu: config.HOLDOUT_RUN_GPUS } : {}),
  });
  const db = createDb(config.DATABASE_URL, { poolSize: 4 });
  // BullMQ workers block on Redis; they must retry forever rather than fail a command.
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });

  const processor = createEvaluateProcessor({
    db,
    sandbox,
    images: new ImageLeases(
      (imageId) => sandbox.removeImage(imageId),
      (err, imageId) => log.warn({ err, imageId }, "could not remove image"),
    ),
    hiddenLog:
      config.HOLDOUT_HIDDEN_LOG_POLICY === "none"
        ? { kind: "none" }
        : { kind: "tail", bytes: config.HOLDOUT_HIDDEN_LOG_TAIL_KB * 1024 },
    testset,
    uploadsDir: path.join(config.HOLDOUT_DATA_DIR, "uploads"),
    workerName: config.HOLDOUT_WORKER_NAME,
    limits: runLimits(config),
    labels: workerLabels,
    log,
  });
  const worker = new Worker<EvaluateJob>(QUEUE_EVALUATE, processor, {
    connection: redis,
    prefix: config.HOLDOUT_QUEUE_PREFIX,
    concurrency: config.HOLDOUT_WORKER_CONCURRENCY,
    // A job's lock is renewed while it runs; a worker that dies stops renewing and the job is
    // picked up again after the lock expires.
    lockDuration: 60_000,
    stalledInterval: 30_000,
    maxStalledCount: 2,
  });
  worker.on("error", (err) => log.error({ err }, "worker error"));
  log.info(
    {
      studies: testset.studies.length,
      readers: testset.readers.length,
      concurrency: config.HOLDOUT_WORKER_CONCURRENCY,
      reaped: reaped.reduce((n, r) => n + r.containers + r.volumes, 0),
    },
    "worker started",
  );

  return {
    async close() {
      // Each step runs even if an earlier one fails.
      const steps: (() => Promise<unknown>)[] = [
        () => worker.close(),
        () => redis.quit(),
        () => db.$disconnect(),
      ];
      for (const step of steps) {
        await step().catch((err: unknown) => log.error({ err }, "shutdown step failed"));
      }
    },
  };
}

export { loadWorkerConfig, type WorkerConfig } from "./config.ts";
