import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { Redis } from "ioredis";
import {
  ConfigError,
  createQueue,
  createWorker,
  leaderTiesJobOptions,
  QUEUE_EVALUATE,
  QUEUE_LEADER_TIES,
  QUEUE_RESCORE,
} from "@holdout/contracts";
import { createDb, findCompetitionBySlug, withLock, type Db } from "@holdout/db";
import { connectDocker, reapLeftovers, Sandbox, type ImageLease } from "@holdout/sandbox";
import { runLimits, smokeLimits, tarballLimits, type WorkerConfig } from "./config.ts";
import { DiskSpace, type DiskReport } from "./disk-space.ts";
import { describeEngine, inspectEngine, pinnedImagesPresent } from "./engine-checks.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { loadHiddenTestset, TestsetSource } from "./hidden-testset.ts";
import { ImageLeases } from "./image-leases.ts";
import { createEvaluateProcessor } from "./jobs/evaluate-submission.job.ts";
import { createLeaderTiesProcessor } from "./jobs/leader-ties.job.ts";
import { createRescoreProcessor } from "./jobs/rescore-submission.job.ts";
import { refreshLeaderTies } from "./leader-ties.ts";
import { createLogger, type Logger } from "./logger.ts";
import { createWorkerMetrics } from "./metrics.ts";
import { startOpsServer, type OpsServer } from "./ops-server.ts";
import { SUBMISSION_LABEL } from "./evaluation.ts";
import { startReconciler } from "./reconciler.ts";
import { startSweeper } from "./sweeper.ts";
import { RunRegistry } from "./run-registry.ts";
import { prepareSmokeSample } from "./smoke-sample.ts";

export interface RunningWorker {
  /** Stops taking jobs, hands running evaluations back to the queue, and closes every connection. */
  close(): Promise<void>;
}

const asConfigError = (variable: string) => (err: unknown) => {
  throw new ConfigError("the worker", [`${variable}: ${err instanceof Error ? err.message : String(err)}`]);
};

/**
 * Builds and starts a worker from its configuration. Tests call this too, in process, against
 * the real PostgreSQL, Redis and Docker engine.
 */
export async function startWorker(
  config: WorkerConfig,
  log: Logger = createLogger(config.LOG_LEVEL),
): Promise<RunningWorker> {
  // A missing or broken test set is a configuration problem: say so plainly and stop.
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
  // This worker's own scratch directory for bundle workspaces; whatever a crash left there goes now.
  const runsDir = path.join(
    config.HOLDOUT_WORK_DIR,
    "runs",
    config.HOLDOUT_WORKER_NAME.replace(/[^\w.-]/g, "_"),
  );
  await rm(runsDir, { recursive: true, force: true });
  await mkdir(runsDir, { recursive: true });

  const docker = connectDocker({ socketPath: config.DOCKER_SOCKET });
  const workerLabels = { "holdout.worker": config.HOLDOUT_WORKER_NAME };
  // Before taking a job: what a crashed worker left. Runs that are certainly over (past their
  // deadline label) whoever made them, and anything carrying this worker's own name (a restart
  // under the same name); the live runs of other workers on this engine are left alone.
  const reaped = [
    await reapLeftovers(docker, {}, { expiredBefore: Date.now() }),
    await reapLeftovers(docker, workerLabels),
  ];
  // Our own images by ID from here on; the worker does not start without them.
  const engine = await inspectEngine(docker, config, log);
  const disk = new DiskSpace({
    dockerRootDir: engine.dockerRootDir,
    workDir: config.HOLDOUT_WORK_DIR,
    minFreeBytes: config.HOLDOUT_DISK_MIN_FREE_MB * 1024 * 1024,
  });
  const sandbox = new Sandbox(docker, {
    keeperImage: engine.keeper.imageId,
    // An upload naming the keeper is refused (the engine would get none of its names anyway). Not
    // the runtime image: a competition may run bundles in an image teams also submit (the demo
    // does, with its example model), so its name is an honest one to carry.
    reservedImageNames: [config.HOLDOUT_KEEPER_IMAGE],
    tarballLimits: tarballLimits(config),
    ...(config.HOLDOUT_IMAGE_ARCH ? { architecture: config.HOLDOUT_IMAGE_ARCH } : {}),
    ...(config.HOLDOUT_RUN_CPUSET ? { cores: config.HOLDOUT_RUN_CPUSET } : {}),
    ...(config.HOLDOUT_RUN_GPUS ? { gpu: config.HOLDOUT_RUN_GPUS } : {}),
  });
  const db = createDb(config.DATABASE_URL, { poolSize: 4 + config.HOLDOUT_WORKER_CONCURRENCY });
  const waitMs = config.HOLDOUT_COMPETITION_WAIT_SECONDS * 1000;
  const competitionId = config.HOLDOUT_COMPETITION
    ? await awaitCompetition(db, config.HOLDOUT_COMPETITION, waitMs, log)
    : undefined;
  if (config.HOLDOUT_COMPETITION && !competitionId) {
    await db.$disconnect();
    throw new ConfigError("the worker", [
      `HOLDOUT_COMPETITION: no competition ${config.HOLDOUT_COMPETITION} in the database after waiting ${config.HOLDOUT_COMPETITION_WAIT_SECONDS} s (the API creates it on its first start; check the slug)`,
    ]);
  }
  // BullMQ workers block on Redis; they must retry forever rather than fail a command.
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  const prefix = config.HOLDOUT_QUEUE_PREFIX;
  const evaluateQueue = createQueue(redis, QUEUE_EVALUATE, { prefix });
  const tiesQueue = createQueue(redis, QUEUE_LEADER_TIES, { prefix });
  const bootstrap = { replicates: config.HOLDOUT_BOOTSTRAP_REPLICATES, seed: config.HOLDOUT_BOOTSTRAP_SEED };
  const registry = new RunRegistry();
  const metrics = createWorkerMetrics({ queues: [evaluateQueue] });

  const refreshTies = async (
    id: string,
    set: Parameters<typeof refreshLeaderTies>[0]["testset"],
    jobLog: Logger,
  ) => {
    try {
      const r = await refreshLeaderTies({ db, testset: set, bootstrap }, id);
      jobLog.info({ competitionId: id, ...r }, "tie marks refreshed");
    } catch (err) {
      // The score itself is stored; the marks are recomputed by a job (with retries) instead.
      jobLog.error(
        { err, competitionId: id },
        "could not refresh tie marks; leaving it to a leader-ties job",
      );
      await tiesQueue.add(
        QUEUE_LEADER_TIES,
        { competitionId: id, reason: "retry after a failed refresh" },
        leaderTiesJobOptions(id),
      );
    }
  };

  const images = new ImageLeases(sandbox, {
    // A lease outlives its evaluation: both runs' wall clocks, and an hour for loading and cleanup.
    ttlMs: smokeLimits(config).wallClockMs + runLimits(config).wallClockMs + 3600_000,
    serialize: (imageId, fn) => withLock(db, `holdout:image-lease:${imageId}`, fn),
    onReleaseProblem: (lease, { err, released }) =>
      log.warn(
        { err, lease: lease.ref, released },
        "could not release an image lease; a later sweep releases it once its submission has ended",
      ),
  });
  const releaseAll = async (leases: ImageLease[]) => {
    for (const lease of leases) await images.release(lease);
  };
  const leaseMs = config.HOLDOUT_HEARTBEAT_STALE_SECONDS * 1000;

  const lockDuration = config.HOLDOUT_JOB_LOCK_SECONDS * 1000;
  const workerOptions = {
    prefix,
    // A job's lock is renewed while it runs; a worker that dies stops renewing, and the stalled check
    // of any live worker moves the job back to the wait list after the lock expires. A live worker
    // that was merely starved past its lock loses the job the same way: the evaluation's lease in
    // PostgreSQL, not this lock, decides who runs it (see run-repository.ts in @holdout/db).
    lockDuration,
    stalledInterval: Math.max(1000, Math.round(lockDuration / 2)),
    maxStalledCount: 2,
  };
  const evaluator = createWorker(
    redis,
    QUEUE_EVALUATE,
    createEvaluateProcessor({
      db,
      sandbox,
      images,
      hiddenLog:
        config.HOLDOUT_HIDDEN_LOG_POLICY === "none"
          ? { kind: "none" }
          : { kind: "tail", bytes: config.HOLDOUT_HIDDEN_LOG_TAIL_KB * 1024 },
      testset,
      smoke: smokeSample ? { sample: smokeSample, limits: smokeLimits(config) } : null,
      dataDir: config.HOLDOUT_DATA_DIR,
      runsDir,
      runtimeImage: engine.runtime,
      disk: config.HOLDOUT_DISK_MIN_FREE_MB > 0 ? disk : null,
      workerName: config.HOLDOUT_WORKER_NAME,
      leaseMs,
      limits: runLimits(config),
      labels: workerLabels,
      // An earlier attempt's containers, volume and image lease.
      reapPrevious: async (id) => {
        await reapLeftovers(docker, { [SUBMISSION_LABEL]: id });
        await releaseAll((await sandbox.listLeases()).filter((lease) => lease.owner === id));
      },
      bootstrap,
      metrics,
      registry,
      log,
      afterScore: (id, jobLog) => refreshTies(id, testset.get(), jobLog),
    }),
    { ...workerOptions, concurrency: config.HOLDOUT_WORKER_CONCURRENCY },
  );
  const rescorer = createWorker(
    redis,
    QUEUE_RESCORE,
    createRescoreProcessor({
      db,
      testset,
      bootstrap,
      workerName: config.HOLDOUT_WORKER_NAME,
      log,
      afterRescore: (id, set, jobLog) => refreshTies(id, set, jobLog),
    }),
    { ...workerOptions, concurrency: 1 },
  );
  const tiesWorker = createWorker(
    redis,
    QUEUE_LEADER_TIES,
    createLeaderTiesProcessor({ db, testset, bootstrap, log }),
    { ...workerOptions, concurrency: 1 },
  );
  // BullMQ keeps trying to renew a lock it lost (every quarter of the lock's duration, for the rest
  // of the run) and reports each failure as an error: one warning per job says it instead.
  const lockLost = new Set<string>();
  for (const w of [evaluator, rescorer, tiesWorker]) {
    w.on("error", (err) => {
      if (!err.message.startsWith("could not renew lock for job "))
        log.error({ err, queue: w.name }, "worker error");
    });
    w.on("lockRenewalFailed", (jobIds) => {
      if (lockLost.size > 1000) lockLost.clear();
      for (const jobId of jobIds.filter((id) => !lockLost.has(id))) {
        lockLost.add(jobId);
        log.warn(
          { jobId, queue: w.name },
          "lost the job's lock (this worker was too slow to renew it): the queue may hand the job to another worker",
        );
      }
    });
    metrics.watch(w);
  }
  const ops: OpsServer | null =
    config.HOLDOUT_OPS_PORT === undefined
      ? null
      : await startOpsServer({
          port: config.HOLDOUT_OPS_PORT,
          host: config.HOLDOUT_OPS_HOST,
          db,
          redis,
          docker,
          metrics,
          log,
          images: () => pinnedImagesPresent(docker, engine),
          ...(config.HOLDOUT_DISK_MIN_FREE_MB > 0 ? { disk: () => disk.check() } : {}),
          details: async () => ({ ...describeEngine(engine), disk: diskDetails(await disk.measure()) }),
        });

  const heartbeat = startHeartbeat({
    db,
    registry,
    name: config.HOLDOUT_WORKER_NAME,
    concurrency: config.HOLDOUT_WORKER_CONCURRENCY,
    intervalMs: config.HOLDOUT_HEARTBEAT_SECONDS * 1000,
    leaseMs,
    log,
  });
  const reconciler = startReconciler(
    {
      db,
      queue: evaluateQueue,
      competitionId,
      staleMs: config.HOLDOUT_HEARTBEAT_STALE_SECONDS * 1000,
      maxRequeues: config.HOLDOUT_RECONCILE_MAX_REQUEUES,
      workerName: config.HOLDOUT_WORKER_NAME,
      log,
    },
    config.HOLDOUT_RECONCILE_INTERVAL_SECONDS * 1000,
  );

  const sweeper = startSweeper(
    { docker, sandbox, db, registry, release: releaseAll, workerLabels, log },
    config.HOLDOUT_RECONCILE_INTERVAL_SECONDS * 1000,
  );

  log.info(
    {
      worker: config.HOLDOUT_WORKER_NAME,
      studies: testset.get().studies.length,
      readers: testset.get().readers.length,
      smokeStudies: smokeSample?.studies.length ?? 0,
      ops: ops?.url,
      concurrency: config.HOLDOUT_WORKER_CONCURRENCY,
      reaped: reaped.reduce((n, r) => n + r.containers + r.volumes, 0),
      ...describeEngine(engine),
      dockerRootDir: engine.storage.rootDir,
      disk: diskDetails(await disk.measure()),
    },
    "worker started",
  );

  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        // First stop every run (their processors hand the jobs back), then let BullMQ finish them.
        registry.stopAll();
        const steps: [string, () => Promise<unknown>][] = [
          ["evaluate worker", () => evaluator.close()],
          ["rescore worker", () => rescorer.close()],
          ["leader-ties worker", () => tiesWorker.close()],
          ["ops server", () => ops?.close() ?? Promise.resolve()],
          ["reconciler", () => reconciler.stop()],
          ["leftover sweeper", () => sweeper.stop()],
          ["heartbeat", () => heartbeat.stop()],
          ["queues", () => Promise.all([evaluateQueue.close(), tiesQueue.close()])],
          ["redis", () => redis.quit()],
          ["database", () => db.$disconnect()],
        ];
        // Each step runs even if an earlier one fails.
        for (const [what, step] of steps) {
          await step().catch((err: unknown) => log.error({ err, step: what }, "shutdown step failed"));
        }
      })();
      return closing;
    },
  };
}

export { loadWorkerConfig, type WorkerConfig } from "./config.ts";
export { reconcileOnce, type ReconcileReport, type ReconcilerOptions } from "./reconciler.ts";
export { refreshLeaderTies } from "./leader-ties.ts";
export {
  decideTies,
  LADDER_ALPHA,
  ladderImproves,
  ladderStep,
  predictionsCsv,
  scoreRecord,
  splitOf,
  TIE_ALPHA,
} from "./scoring.ts";
export { splitStudies, subsetTestset, pickTasks, type SplitSpec } from "./split.ts";
export { loadHiddenTestset, type HiddenTestset } from "./hidden-testset.ts";

/**
 * The competition's id once it exists: a worker started together with a fresh deployment's API
 * (compose, the demo) may look before the API has created it. Undefined after `waitMs` without it.
 */
async function awaitCompetition(
  db: Db,
  slug: string,
  waitMs: number,
  log: Logger,
): Promise<string | undefined> {
  const deadline = Date.now() + waitMs;
  for (let first = true; ; first = false) {
    const found = await findCompetitionBySlug(db, slug);
    if (found) return found.id;
    const left = deadline - Date.now();
    if (left <= 0) return undefined;
    if (first)
      log.info(
        { slug, waitSeconds: Math.round(waitMs / 1000) },
        "competition not in the database yet; waiting for the API to create it",
      );
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, left)));
  }
}

/** Free space in whole MiB, for the start log line and /readyz (null: the data root is not visible). */
function diskDetails(report: DiskReport) {
  const mib = (bytes: number) => Math.floor(bytes / (1024 * 1024));
  return {
    dockerRootFreeMb: report.dockerRoot ? mib(report.dockerRoot.freeBytes) : null,
    workDirFreeMb: mib(report.workDir.freeBytes),
    minFreeMb: mib(report.minFreeBytes),
  };
}
