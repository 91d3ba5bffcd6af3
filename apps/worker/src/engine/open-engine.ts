import type Docker from "dockerode";
import { connectDocker, reapLeftovers, Sandbox } from "@holdout/sandbox";
import { tarballLimits, type WorkerConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import { DiskSpace, type DiskReport } from "./disk-space.ts";
import { describeEngine, inspectEngine, pinnedImagesPresent, type EngineFacts } from "./engine-checks.ts";

/** This worker's Docker engine, as the rest of the worker uses it. */
export interface WorkerEngine {
  docker: Docker;
  facts: EngineFacts;
  sandbox: Sandbox;
  disk: DiskSpace;
  /** On every sandbox object of this worker's runs: `holdout.worker`. */
  labels: Record<string, string>;
  /** Containers and volumes removed at start (what a crashed worker left). */
  reaped: number;
}

/**
 * Connects to the engine, clears what a crash left and pins our own images, before any job is taken.
 * Without the keeper image (or a runtime image the configuration names) the worker does not start.
 */
export async function openEngine(config: WorkerConfig, log: Logger): Promise<WorkerEngine> {
  const docker = connectDocker({ socketPath: config.DOCKER_SOCKET });
  const labels = { "holdout.worker": config.HOLDOUT_WORKER_NAME };
  // Runs that are certainly over (past their deadline label) whoever made them, and anything
  // carrying this worker's own name (a restart under the same name); the live runs of other workers
  // on this engine are left alone.
  const reaped = [
    await reapLeftovers(docker, {}, { expiredBefore: Date.now() }),
    await reapLeftovers(docker, labels),
  ];
  // Our own images by ID from here on.
  const facts = await inspectEngine(docker, config, log);
  const disk = new DiskSpace({
    dockerRootDir: facts.dockerRootDir,
    workDir: config.HOLDOUT_WORK_DIR,
    minFreeBytes: config.HOLDOUT_DISK_MIN_FREE_MB * 1024 * 1024,
  });
  const sandbox = new Sandbox(docker, {
    keeperImage: facts.keeper.imageId,
    // An upload naming the keeper is refused (the engine would get none of its names anyway). Not
    // the runtime image: a competition may run bundles in an image teams also submit (the demo
    // does, with its example model), so its name is an honest one to carry.
    reservedImageNames: [config.HOLDOUT_KEEPER_IMAGE],
    tarballLimits: tarballLimits(config),
    // An image built on ours does not send our layers again (the engine holds them while we run).
    sharedLayerImages: [facts.keeper.imageId, ...(facts.runtime ? [facts.runtime.imageId] : [])],
    ...(config.HOLDOUT_IMAGE_ARCH ? { architecture: config.HOLDOUT_IMAGE_ARCH } : {}),
    ...(config.HOLDOUT_RUN_CPUSET ? { cores: config.HOLDOUT_RUN_CPUSET } : {}),
    ...(config.HOLDOUT_RUN_GPUS ? { gpu: config.HOLDOUT_RUN_GPUS } : {}),
  });
  const removed = reaped.reduce((n, r) => n + r.containers + r.volumes, 0);
  return { docker, facts, sandbox, disk, labels, reaped: removed };
}

/** Free space in whole MiB, for the start log line and /readyz (null: the data root is not visible). */
export function diskDetails(report: DiskReport) {
  const mib = (bytes: number) => Math.floor(bytes / (1024 * 1024));
  return {
    dockerRootFreeMb: report.dockerRoot ? mib(report.dockerRoot.freeBytes) : null,
    workDirFreeMb: mib(report.workDir.freeBytes),
    minFreeMb: mib(report.minFreeBytes),
  };
}

/** The engine's part of the start log line. */
export async function describeWorkerEngine(engine: WorkerEngine) {
  return {
    reaped: engine.reaped,
    ...describeEngine(engine.facts),
    dockerRootDir: engine.facts.storage.rootDir,
    disk: diskDetails(await engine.disk.measure()),
  };
}

/**
 * What the engine adds to the ops server's /readyz: it must answer, its pinned images must still be
 * there, its disks must have their reserve free (when checked), and the answer carries the image
 * store, the pinned IDs and the free space.
 */
export function engineProbes(engine: WorkerEngine, config: WorkerConfig) {
  return {
    docker: engine.docker,
    images: () => pinnedImagesPresent(engine.docker, engine.facts),
    ...(config.HOLDOUT_DISK_MIN_FREE_MB > 0 ? { disk: () => engine.disk.check() } : {}),
    details: async () => ({
      ...describeEngine(engine.facts),
      disk: diskDetails(await engine.disk.measure()),
    }),
  };
}
