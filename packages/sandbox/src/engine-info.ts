import type Docker from "dockerode";
import { isNotFound } from "./docker.ts";

/**
 * Where the engine keeps images, as `docker info` reports it. The two stores read a `docker load`
 * archive differently (the containerd store prefers an OCI layout and names images from its
 * annotations), so the worker states which one it runs on.
 */
export interface EngineStorage {
  /** `containerd`: the containerd image store (a snapshotter); `classic`: a graph driver. */
  imageStore: "containerd" | "classic";
  /** The snapshotter or graph driver: overlayfs, overlay2, vfs, ... */
  driver: string;
  /** The engine's data root (DockerRootDir), a path on the engine's host. */
  rootDir: string;
}

/** A trusted local image of ours (the keeper, the bundles' runtime), pinned to the ID its tag had. */
export interface TrustedImage {
  /** The tag (or ID) it was configured as. */
  ref: string;
  /** `sha256:…`: what every container is created from. */
  imageId: string;
  /** Unpacked size on the engine, in bytes. */
  size: number;
}

/** How the containerd image store marks itself in `docker info` DriverStatus. */
const SNAPSHOTTER_TYPE = "io.containerd.snapshotter.v1";

export async function engineStorage(docker: Docker): Promise<EngineStorage> {
  const info = (await docker.info()) as {
    Driver?: string;
    DriverStatus?: [string, string][] | null;
    DockerRootDir?: string;
  };
  const containerd = (info.DriverStatus ?? []).some(
    ([key, value]) => key === "driver-type" && value === SNAPSHOTTER_TYPE,
  );
  return {
    imageStore: containerd ? "containerd" : "classic",
    driver: info.Driver ?? "unknown",
    rootDir: info.DockerRootDir ?? "",
  };
}

/**
 * The image a tag names now, or null when the engine has none by that name; any other failure to ask
 * the engine throws. Resolved once, when the worker starts: a tag moved afterwards (by a `docker load`
 * or a build on the same engine) changes nothing that runs.
 */
export async function resolveTrustedImage(docker: Docker, ref: string): Promise<TrustedImage | null> {
  try {
    const info = await docker.getImage(ref).inspect();
    return { ref, imageId: info.Id, size: info.Size };
  } catch (err) {
    if (isNotFound(err)) return null;
    throw new Error(`could not ask the Docker engine about the image ${ref}`, { cause: err });
  }
}
