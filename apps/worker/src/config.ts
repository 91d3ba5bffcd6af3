import os from "node:os";
import { z } from "zod";
import { directory, parseConfig, positiveInt, postgresUrl, queuePrefix, redisUrl } from "@holdout/contracts";

const MiB = 1024 * 1024;

const WorkerConfigSchema = z.object({
  DATABASE_URL: postgresUrl,
  REDIS_URL: redisUrl,
  HOLDOUT_TESTSET_DIR: directory("/srv/holdout/testset (a contract-1 test set)"),
  HOLDOUT_DATA_DIR: directory("/var/lib/holdout (where the API stores uploads)"),
  HOLDOUT_QUEUE_PREFIX: queuePrefix,
  HOLDOUT_WORKER_NAME: z.string().min(1).default(`${os.hostname()}:${process.pid}`),
  HOLDOUT_WORKER_CONCURRENCY: positiveInt(1),
  DOCKER_SOCKET: z.string().min(1).default("/var/run/docker.sock"),
  /** Trusted image for the /out keeper container; any image with `sleep` will do. */
  HOLDOUT_KEEPER_IMAGE: z.string().min(1).default("holdout/base:bookworm"),
  HOLDOUT_RUN_TIMEOUT_SECONDS: positiveInt(1800),
  HOLDOUT_RUN_MEMORY_MB: positiveInt(4096),
  HOLDOUT_RUN_CPUS: z.coerce.number().positive().default(1),
  HOLDOUT_RUN_PIDS: positiveInt(256),
  HOLDOUT_RUN_OUTPUT_MB: positiveInt(64),
  HOLDOUT_RUN_LOG_KB: positiveInt(1024),
  LOG_LEVEL: z.enum(["error", "warn", "info", "debug"]).default("info"),
});

export type WorkerConfig = z.infer<typeof WorkerConfigSchema>;

export function loadWorkerConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  return parseConfig("the worker", WorkerConfigSchema, env);
}

export function runLimits(c: WorkerConfig) {
  return {
    memoryBytes: c.HOLDOUT_RUN_MEMORY_MB * MiB,
    cpus: c.HOLDOUT_RUN_CPUS,
    pids: c.HOLDOUT_RUN_PIDS,
    wallClockMs: c.HOLDOUT_RUN_TIMEOUT_SECONDS * 1000,
    outputBytes: c.HOLDOUT_RUN_OUTPUT_MB * MiB,
    logBytes: c.HOLDOUT_RUN_LOG_KB * 1024,
  };
}
