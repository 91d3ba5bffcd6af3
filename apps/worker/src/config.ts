import os from "node:os";
import path from "node:path";
import { z } from "zod";
import {
  directory,
  flag,
  parseConfig,
  positiveInt,
  postgresUrl,
  queuePrefix,
  redisUrl,
} from "@holdout/contracts";
import { parseCpuList, type GpuGrant, type RunLimits, type TarballLimits } from "@holdout/sandbox";

const MiB = 1024 * 1024;

/** The bundles' runtime image when HOLDOUT_RUNTIME_IMAGE is unset (docker/build-images.sh --runtime). */
export const DEFAULT_RUNTIME_IMAGE = "holdout/runtime-python:latest";

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

export const WorkerConfigSchema = z
  .object({
    DATABASE_URL: postgresUrl,
    REDIS_URL: redisUrl,
    HOLDOUT_TESTSET_DIR: directory("/srv/holdout/testset (a test set, laid out as docs/test-set.md says)"),
    HOLDOUT_DATA_DIR: directory("/var/lib/holdout (where the API stores uploads)"),
    HOLDOUT_QUEUE_PREFIX: queuePrefix,
    HOLDOUT_WORKER_NAME: z.string().min(1).default(`${os.hostname()}:${process.pid}`),
    HOLDOUT_WORKER_CONCURRENCY: positiveInt(1),
    /**
     * A development set (the test-set layout, public labels) for the smoke run that precedes every
     * hidden run. Unset: no smoke run (the worker says so at start).
     */
    HOLDOUT_DEVSET_DIR: z.string().min(1).optional(),
    HOLDOUT_SMOKE_STUDIES: positiveInt(10),
    /** Default: the hidden run's limit, at most 300 s (a few studies need far less). */
    HOLDOUT_SMOKE_TIMEOUT_SECONDS: z.coerce.number().int().positive().optional(),
    /**
     * Where code bundles run: the competition's runtime image (a trusted local image), resolved to its
     * ID when the worker starts and run by that ID until it stops. Named here, it must exist (else the
     * worker does not start); unset: holdout/runtime-python:latest if the engine has it, and without
     * it code bundles fail (as infrastructure, not charged).
     */
    HOLDOUT_RUNTIME_IMAGE: z.string().min(1).optional(),
    /**
     * This worker's scratch space: the cached smoke sample and each bundle run's assembled /workspace.
     * Best on the test set's filesystem (files are hard-linked, else copied); when the worker runs in
     * a container, a path mounted at the same place on the engine's host.
     */
    HOLDOUT_WORK_DIR: z.string().min(1).default(path.join(os.tmpdir(), "holdout-work")),
    /**
     * The competitions (slugs, separated by commas) whose submissions this worker evaluates; unset:
     * every competition. A job of another competition goes back to the queue for a worker that
     * serves it, and its submission's timeline says it is waiting for one.
     */
    HOLDOUT_WORKER_COMPETITIONS: z
      .string()
      .regex(/^[a-z0-9-]+(,[a-z0-9-]+)*$/, "expected competition slugs separated by commas")
      .transform((v) => v.split(","))
      .optional(),
    /**
     * Whether this worker closes the competitions whose last phase has ended (those it serves, with
     * HOLDOUT_WORKER_COMPETITIONS), as of that end, at every reconciler pass. One such worker suffices.
     */
    HOLDOUT_CLOSE_ENDED_COMPETITIONS: flag(true),
    /** Reconcile only this competition's submissions (its slug); default: every competition. */
    HOLDOUT_COMPETITION: z.string().min(1).optional(),
    /**
     * How long a starting worker waits for HOLDOUT_COMPETITION to exist (the API creates it on its
     * first start, which may come after the worker's) before it gives up as misconfigured.
     */
    HOLDOUT_COMPETITION_WAIT_SECONDS: z.coerce.number().int().min(0).default(60),
    HOLDOUT_HEARTBEAT_SECONDS: positiveInt(5),
    /**
     * A run whose worker has not beaten for this long is taken to be orphaned: its lease on the
     * submission lapses, and only then may another worker start the submission again.
     */
    HOLDOUT_HEARTBEAT_STALE_SECONDS: positiveInt(45),
    HOLDOUT_RECONCILE_INTERVAL_SECONDS: positiveInt(15),
    /** Re-queues of one submission by the reconciler before it fails as `infrastructure` (refunded). */
    HOLDOUT_RECONCILE_MAX_REQUEUES: positiveInt(3),
    /**
     * BullMQ job lock; a dead worker's job is taken back after about 1.5 times this. A worker that
     * was only slow to renew it keeps its run: the job waits until the run's lease lapses.
     */
    HOLDOUT_JOB_LOCK_SECONDS: positiveInt(30),
    /** Port of the worker's /healthz, /readyz and /metrics; unset: not served. */
    HOLDOUT_OPS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    /** Address of that port: loopback keeps it to this host; `0.0.0.0` in a container (Compose). */
    HOLDOUT_OPS_HOST: z.string().min(1).default("127.0.0.1"),
    HOLDOUT_BOOTSTRAP_REPLICATES: positiveInt(2000),
    HOLDOUT_BOOTSTRAP_SEED: z.coerce.number().int().min(0).max(0xffffffff).default(20_190_101),
    DOCKER_SOCKET: z.string().min(1).default("/var/run/docker.sock"),
    /**
     * Trusted image for the /out keeper container; any image with `sleep` will do. Resolved to its ID
     * when the worker starts (which it refuses to do without it) and run by that ID until it stops.
     */
    HOLDOUT_KEEPER_IMAGE: z.string().min(1).default("holdout/base:bookworm"),
    /**
     * Free space kept on the Docker engine's data root and on HOLDOUT_WORK_DIR. Below it the worker's
     * /readyz says not ready, and a load that would leave less (an image needs at least its upload's
     * size) is not started: the submission goes back to the queue, uncharged. 0: not checked.
     */
    HOLDOUT_DISK_MIN_FREE_MB: z.coerce.number().int().min(0).default(2048),
    /**
     * How long a submission may wait for a worker with room for its upload (it goes back to the
     * queue every minute meanwhile). Past it the submission fails as `infrastructure`, not charged,
     * saying that no worker had room: an upload larger than any worker's free space would otherwise
     * stay queued for ever.
     */
    HOLDOUT_DISK_WAIT_SECONDS: positiveInt(1800),
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
    HOLDOUT_IMAGE_MAX_CONFIG_KB: positiveInt(4 * 1024),
    HOLDOUT_IMAGE_MAX_RATIO: z.coerce.number().min(1).default(100),
    /**
     * What the team may read of the hidden run's log: nothing (the default: a model can print what it
     * reads of the test set), or its last HOLDOUT_HIDDEN_LOG_TAIL_KB. Organizers always read it whole.
     */
    HOLDOUT_HIDDEN_LOG_POLICY: z.enum(["none", "tail"]).default("none"),
    HOLDOUT_HIDDEN_LOG_TAIL_KB: positiveInt(2),
    /**
     * The server's public address (e.g. https://holdout.example.org), for the submission page's link in
     * notifications; unset, they carry the page's path only.
     */
    HOLDOUT_PUBLIC_URL: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
    /**
     * Lets webhooks reach loopback and private addresses (10/8, 172.16/12, 192.168/16, 127/8, fc00::/7),
     * for local use and tests; link-local (cloud metadata) and reserved ones stay refused. Set the same
     * on the API, which checks at registration.
     */
    HOLDOUT_WEBHOOK_ALLOW_PRIVATE: flag(false),
    /** Tries per webhook delivery (a 2xx ends them); then the delivery is logged as failed. */
    HOLDOUT_WEBHOOK_ATTEMPTS: positiveInt(6),
    /** The wait before a delivery's second try; each later wait doubles (30 s, 1 min, 2 min, …). */
    HOLDOUT_WEBHOOK_BACKOFF_MS: positiveInt(30_000),
    /** One try's limit, connection to the end of the answer (of which at most 64 KiB is read). */
    HOLDOUT_WEBHOOK_TIMEOUT_SECONDS: positiveInt(10),
    /**
     * Where e-mail is sent (smtp://user:pass@host:587, smtps://… for TLS from the start); unset, no
     * e-mail is sent (teams' opt-in is kept, and webhooks still work).
     */
    HOLDOUT_SMTP_URL: z
      .string()
      .regex(/^smtps?:\/\//, { error: "must be an smtp:// or smtps:// URL" })
      .optional(),
    /** The From: of Holdout's e-mail: an address, or a name and one (`Holdout <holdout@example.org>`). */
    HOLDOUT_SMTP_FROM: z.string().min(3).default("holdout@localhost"),
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
    if (c.HOLDOUT_HEARTBEAT_STALE_SECONDS < 3 * c.HOLDOUT_HEARTBEAT_SECONDS) {
      ctx.addIssue({
        code: "custom",
        path: ["HOLDOUT_HEARTBEAT_STALE_SECONDS"],
        message: `must be at least 3 heartbeats (3 x HOLDOUT_HEARTBEAT_SECONDS = ${3 * c.HOLDOUT_HEARTBEAT_SECONDS}), or a slow beat would look like a dead worker`,
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

/** The smoke run's limits: the hidden run's, with its own wall clock. */
export function smokeLimits(c: WorkerConfig): RunLimits {
  const seconds = c.HOLDOUT_SMOKE_TIMEOUT_SECONDS ?? Math.min(300, c.HOLDOUT_RUN_TIMEOUT_SECONDS);
  return { ...runLimits(c), wallClockMs: seconds * 1000 };
}

export function tarballLimits(c: WorkerConfig): TarballLimits {
  return {
    maxCompressedBytes: c.HOLDOUT_IMAGE_MAX_MB * MiB,
    maxUncompressedBytes: c.HOLDOUT_IMAGE_MAX_UNPACKED_MB * MiB,
    maxLayers: c.HOLDOUT_IMAGE_MAX_LAYERS,
    maxConfigBytes: c.HOLDOUT_IMAGE_MAX_CONFIG_KB * 1024,
    maxCompressionRatio: c.HOLDOUT_IMAGE_MAX_RATIO,
  };
}
