import type { WorkerLimits } from "@holdout/contracts";
import { competitionRuntimeImages, recordRuntimeImage, runtimeImageListed, type Db } from "@holdout/db";
import { listImagePackages, resolveTrustedImage, type TrustedImage } from "@holdout/sandbox";
import { smokeLimits, type WorkerConfig } from "../config.ts";
import type { WorkerEngine } from "../engine/open-engine.ts";
import type { Logger } from "../logger.ts";

/**
 * The limits this worker applies to every run, as its heartbeat publishes them: the competition
 * page reads them from there, so what teams read is what is in force (docs/architecture.md, "The
 * competition page").
 */
export function workerLimits(c: WorkerConfig): WorkerLimits {
  const gpus = c.HOLDOUT_RUN_GPUS;
  return {
    memoryMb: c.HOLDOUT_RUN_MEMORY_MB,
    cpus: c.HOLDOUT_RUN_CPUS,
    timeoutSeconds: c.HOLDOUT_RUN_TIMEOUT_SECONDS,
    smokeTimeoutSeconds: smokeLimits(c).wallClockMs / 1000,
    outputMb: c.HOLDOUT_RUN_OUTPUT_MB,
    tmpMb: c.HOLDOUT_RUN_TMP_MB,
    pids: c.HOLDOUT_RUN_PIDS,
    openFiles: c.HOLDOUT_RUN_OPEN_FILES,
    network: "none",
    gpus: !gpus ? "none" : "deviceIds" in gpus && gpus.deviceIds ? gpus.deviceIds.length : "all",
    imageMaxMb: c.HOLDOUT_IMAGE_MAX_MB,
    imageMaxUnpackedMb: c.HOLDOUT_IMAGE_MAX_UNPACKED_MB,
    imageMaxLayers: c.HOLDOUT_IMAGE_MAX_LAYERS,
    architecture: c.HOLDOUT_IMAGE_ARCH ?? null,
    hiddenLog: c.HOLDOUT_HIDDEN_LOG_POLICY,
    competitions: c.HOLDOUT_WORKER_COMPETITIONS ?? null,
  };
}

export interface PackageListing {
  /** Resolves once every runtime image is listed (or its listing failed, which is logged). */
  done: Promise<void>;
}

/**
 * Lists, once per image ID, the packages of the runtime images this worker may run bundles in (its
 * configured one and those its competitions name) and records them for the competition page. In
 * the background, after the start: a listing takes a container run per image, and a failure only
 * leaves the page without the list (logged), never the worker without work.
 */
export function listRuntimePackages(
  config: WorkerConfig,
  parts: { db: Db; engine: WorkerEngine; log: Logger },
): PackageListing {
  const { db, engine, log } = parts;
  const listOne = async (image: TrustedImage) => {
    if (await runtimeImageListed(db, image.imageId)) return;
    // Not under this worker's labels: its sweeper removes such objects of no run in progress. The
    // container's deadline label lets any worker's reaper remove it if this process dies meanwhile.
    const packages = await listImagePackages(engine.docker, image.imageId);
    await recordRuntimeImage(db, { imageId: image.imageId, ref: image.ref, packages });
    log.info(
      { runtimeImage: image.ref, id: image.imageId, packages: packages.length },
      "runtime image's packages listed",
    );
  };
  const run = async () => {
    const images: TrustedImage[] = engine.facts.runtime ? [engine.facts.runtime] : [];
    for (const ref of await competitionRuntimeImages(db, config.HOLDOUT_WORKER_COMPETITIONS ?? null)) {
      const image = await resolveTrustedImage(engine.docker, ref);
      if (image && !images.some((i) => i.imageId === image.imageId)) images.push(image);
    }
    for (const image of images) {
      try {
        await listOne(image);
      } catch (err) {
        log.warn(
          { err, runtimeImage: image.ref },
          "could not list the runtime image's packages; the competition page shows none",
        );
      }
    }
  };
  return {
    done: run().catch((err: unknown) => {
      log.warn({ err }, "could not list the runtime images' packages; the competition page shows none");
    }),
  };
}
