import os from "node:os";
import { z } from "zod";
import { directory, parseConfig, positiveInt, postgresUrl, queuePrefix, redisUrl } from "@holdout/contracts";
import { parseCpuList, type GpuGrant, type RunLimits, type TarballLimits } from "@holdout/sandbox";

const MiB = 1024 * 1024;

/** `0-3,6`: the engine's cpuset syntax. */
const cpuList = z
  .string()
  .regex(/^\d+(-\d+)?(,\d+(-\d+)?)*$/, "expected a CPU list such as 0-3,6")
  .transform((list, ctx) => {
    try {
      return parseCpuList(list);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: err instanceof Error ? err.message : String(err) });
      return z.NEVER;
    }
  });

/** `none`, `all`, or device ids / UUIDs separated by commas: always an explicit device request. */
const gpuGrant = z
  .string()
  .regex(/^(none|all|[\w-]+(,[\w-]+)*)$/, "expected none, all, or GPU ids such as 0,1")
  .default("none")
  .transform((v): GpuGrant | undefined =>
    v === "none" ? undefined : v === "all" ? { count: -1 } : { deviceIds: v.split(",") },
  );

const WorkerConfigSchema = z
  .object({
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
    /** Cores runs are pinned to (each takes ceil(CPUS) of them). Default: all of the engine's. */
    HOLDOUT_RUN_CPUSET: cpuList.optional(),
    HOLDOUT_RUN_PIDS: positiveInt(256),
    HOLDOUT_RUN_OUTPUT_MB: positiveInt(64),
    HOLDOUT_RUN_TMP_MB: positiveInt(256),
    HOLDOUT_RUN_OPEN_FILES: positiveInt(4096),
    HOLDOUT_RUN_LOG_KB: positiveInt(1024),
    HOLDOUT_RUN_GPUS: gpuGrant,
    /** Image architecture accepted, e.g. amd64. Default: the engine's. */
    HOLDOUT_IMAGE_ARCH: z.string().min(1).optional(),
    HOLDOUT_IMAGE_MAX_MB: positiveInt(16 * 1024),
    HOLDOUT_IMAGE_MAX_UNPACKED_MB: positiveInt(32 * 1024),
    HOLDOUT_IMAGE_MAX_LAYERS: positiveInt(100),
    HOLDOUT_IMAGE_MAX_RATIO: z.coerce.number().min(1).default(100),
    /** What the team may read of the hidden run's log: nothing, or its last HOLDOUT_HIDDEN_LOG_TAIL_KB. */
    HOLDOUT_HIDDEN_LOG_POLICY: z.enum(["none", "tail"]).default("tail"),
    HOLDOUT_HIDDEN_LOG_TAIL_KB: positiveInt(2),
    LOG_LEVEL: z.enum(["error", "warn", "info", "debug"]).default("info"),
  })
  .superRefine((c, ctx) => {
    // tmpfs pages are charged to the container's memory: a /tmp as large as the memory is a trap.
    if (c.HOLDOUT_RUN_TMP_MB >= c.HOLDOUT_RUN_MEMORY_MB) {
      ctx.addIssue({
        code: "custom",
        path: ["HOLDOUT_RUN_TMP_MB"],
        message: `must be less than HOLDOUT_RUN_MEMORY_MB (${c.HOLDOUT_RUN_MEMORY_MB}): /tmp counts against memory`,
      });
    }
    if (c.HOLDOUT_RUN_CPUSET && new Set(c.HOLDOUT_RUN_CPUSET).size < Math.ceil(c.HOLDOUT_RUN_CPUS)) {
      ctx.addIssue({
        code: "custom",
        path: ["HOLDOUT_RUN_CPUSET"],
        message: `has fewer cores than HOLDOUT_RUN_CPUS (${c.HOLDOUT_RUN_CPUS})`,
      });
    }
    if (c.HOLDOUT_IMAGE_MAX_UNPACKED_MB < c.HOLDOUT_IMAGE_MAX_MB) {
      ctx.addIssue({
        code: "custom",
        path: ["HOLDOUT_IMAGE_MAX_UNPACKED_MB"],
        message: "must be at least HOLDOUT_IMAGE_MAX_MB",
      });
    }
  });

export type WorkerConfig = z.infer<typeof WorkerConfigSchema>;

export function loadWorkerConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  return parseConfig("the worker", WorkerConfigSchema, env);
}

export function runLimits(c: WorkerConfig): RunLimits {
  return {
    memoryBytes: c.HOLDOUT_RUN_MEMORY_MB * MiB,
    cpus: c.HOLDOUT_RUN_CPUS,
    pids: c.HOLDOUT_RUN_PIDS,
    wallClockMs: c.HOLDOUT_RUN_TIMEOUT_SECONDS * 1000,
    outputBytes: c.HOLDOUT_RUN_OUTPUT_MB * MiB,
    tmpBytes: c.HOLDOUT_RUN_TMP_MB * MiB,
    logBytes: c.HOLDOUT_RUN_LOG_KB * 1024,
    openFiles: c.HOLDOUT_RUN_OPEN_FILES,
  };
}

export function tarballLimits(c: WorkerConfig): TarballLimits {
  return {
    maxCompressedBytes: c.HOLDOUT_IMAGE_MAX_MB * MiB,
    maxUncompressedBytes: c.HOLDOUT_IMAGE_MAX_UNPACKED_MB * MiB,
    maxLayers: c.HOLDOUT_IMAGE_MAX_LAYERS,
    maxCompressionRatio: c.HOLDOUT_IMAGE_MAX_RATIO,
  };
}
