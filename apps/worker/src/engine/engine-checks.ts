import { access } from "node:fs/promises";
import type Docker from "dockerode";
import { ConfigError } from "@holdout/contracts";
import { engineStorage, resolveTrustedImage, type EngineStorage, type TrustedImage } from "@holdout/sandbox";
import { DEFAULT_RUNTIME_IMAGE, type WorkerConfig } from "../config.ts";
import type { Logger } from "../logger.ts";

/** What the worker found on its engine at start, and holds to until it stops. */
export interface EngineFacts {
  storage: EngineStorage;
  /** The keeper's image, pinned: every keeper is created from this ID. */
  keeper: TrustedImage;
  /** The bundles' runtime image, pinned; null when the default one is absent (no code bundles). */
  runtime: TrustedImage | null;
  /** The engine's data root as this process sees it; null when it cannot (then it is not measured). */
  dockerRootDir: string | null;
}

/**
 * Resolves our own images to IDs once, before any job: from then on nothing of ours runs by tag, so a
 * tag moved afterwards (a `docker load` or a build on this engine) changes nothing that runs. A
 * missing keeper, or a runtime image the configuration names explicitly, stops the start with a
 * message naming the setting; the default runtime image may be absent (a competition of images
 * alone), and then code bundles fail as infrastructure, uncharged, on this worker.
 */
export async function inspectEngine(docker: Docker, config: WorkerConfig, log: Logger): Promise<EngineFacts> {
  const runtimeRef = config.HOLDOUT_RUNTIME_IMAGE ?? DEFAULT_RUNTIME_IMAGE;
  const [storage, keeper, runtime] = await Promise.all([
    engineStorage(docker),
    resolveTrustedImage(docker, config.HOLDOUT_KEEPER_IMAGE),
    resolveTrustedImage(docker, runtimeRef),
  ]);
  const missing: string[] = [];
  if (!keeper)
    missing.push(
      `HOLDOUT_KEEPER_IMAGE: the image ${config.HOLDOUT_KEEPER_IMAGE} is not on the Docker engine (build the base image with docker/build-images.sh, or name any local image that has \`sleep\`)`,
    );
  if (!runtime && config.HOLDOUT_RUNTIME_IMAGE !== undefined)
    missing.push(
      `HOLDOUT_RUNTIME_IMAGE: the image ${runtimeRef} is not on the Docker engine (build it with docker/build-images.sh --runtime, name a local image, or unset the variable for a competition without code bundles)`,
    );
  if (!keeper || missing.length > 0) throw new ConfigError("the worker", missing);
  if (!runtime)
    log.warn(
      { runtimeImage: runtimeRef },
      "HOLDOUT_RUNTIME_IMAGE is not on the Docker engine: code bundles will fail on this worker (as infrastructure, not charged) until it is built (docker/build-images.sh --runtime) and the worker restarted",
    );
  const dockerRootDir = await visible(storage.rootDir);
  if (dockerRootDir === null)
    log.warn(
      { dockerRootDir: storage.rootDir },
      "the Docker engine's data root is not visible to this worker: its free space is not checked before loads (mount it read-only at the same path to have it checked)",
    );
  return { storage, keeper, runtime, dockerRootDir };
}

async function visible(path: string): Promise<string | null> {
  if (path === "") return null;
  try {
    await access(path);
    return path;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EACCES" || code === "ENOTDIR") return null;
    throw new Error(`could not look for the Docker engine's data root at ${path}`, { cause: err });
  }
}

/** Resolves while every pinned image is still on the engine (a removed one would fail every run). */
export async function pinnedImagesPresent(docker: Docker, facts: EngineFacts): Promise<void> {
  const pinned = [facts.keeper, ...(facts.runtime ? [facts.runtime] : [])];
  const gone: string[] = [];
  for (const image of pinned) {
    if (!(await resolveTrustedImage(docker, image.imageId))) gone.push(`${image.ref} (${image.imageId})`);
  }
  if (gone.length > 0) throw new Error(`pinned image gone from the engine: ${gone.join(", ")}`);
}

/** The engine and images part of the start log line and of /readyz. */
export function describeEngine(facts: EngineFacts) {
  const pin = (image: TrustedImage | null) => (image ? { ref: image.ref, id: image.imageId } : null);
  return {
    imageStore: facts.storage.imageStore,
    storageDriver: facts.storage.driver,
    images: { keeper: pin(facts.keeper), runtime: pin(facts.runtime) },
  };
}
