import { Readable } from "node:stream";
import type Docker from "dockerode";
import { pack as tarPack } from "tar-stream";
import { isNotFound } from "./docker.ts";
import { SandboxRejection } from "./errors.ts";
import {
  configDigest,
  forEachEntry,
  inspectImageTarball,
  MAX_MANIFEST_BYTES,
  whyUnrunnable,
  type ImagePolicy,
  normalize,
  parseManifest,
  readCapped,
} from "./image-tarball.ts";

export interface LoadedImage {
  imageId: string;
  /** `docker image inspect` Size: the unpacked size on the engine, in bytes. */
  size: number;
  /**
   * The engine already held this image before the load (the same image submitted twice, or a
   * tarball of one of our own images). Such an image is not the run's to remove.
   */
  preexisting: boolean;
}

/** With `quiet`, a load answers a line or two; more than this is not a progress stream worth keeping. */
const MAX_PROGRESS_BYTES = 1024 * 1024;

/**
 * Validates the archive, loads it, and confirms the engine now holds the image under the expected ID.
 *
 * The archive is re-packed on the way in with its tags removed: `docker load` would otherwise move any
 * tag it names (say our keeper or runtime image) onto the submitter's image. Loaded images are
 * therefore untagged and only ever addressed by ID.
 */
export async function loadImage(
  docker: Docker,
  path: string,
  policy: ImagePolicy = {},
): Promise<LoadedImage> {
  const info = await inspectImageTarball(path, policy);
  const preexisting = await imageExists(docker, info.imageId);
  if (!preexisting) {
    const body = untaggedArchive(path, info.compressed, info.imageId);
    try {
      const progress = await docker.loadImage(body, { quiet: true });
      const failure = await firstProgressError(progress);
      if (failure !== undefined) {
        // The engine answers 200 and reports failures in the stream. A full disk is ours, not the team's.
        if (/no space left on device/i.test(failure)) throw new Error(`docker load failed: ${failure}`);
        throw new SandboxRejection(`the Docker engine could not load the image: ${failure}`);
      }
    } finally {
      body.destroy();
    }
  }
  let inspected: Docker.ImageInspectInfo;
  try {
    inspected = await docker.getImage(info.imageId).inspect();
  } catch (err) {
    throw new Error(`docker load reported success but image ${info.imageId} is not on the engine`, {
      cause: err,
    });
  }
  // The engine's own view, in case it reads the config differently from us.
  const unrunnable = whyUnrunnable(
    {
      os: inspected.Os,
      architecture: inspected.Architecture,
      entrypoint: argv(inspected.Config.Entrypoint),
      cmd: argv(inspected.Config.Cmd),
      volumes: Object.keys(inspected.Config.Volumes ?? {}),
    },
    policy.architecture,
  );
  if (unrunnable !== undefined) {
    if (!preexisting) await removeImage(docker, info.imageId);
    throw new SandboxRejection(unrunnable);
  }
  return { imageId: info.imageId, size: inspected.Size, preexisting };
}

async function imageExists(docker: Docker, imageId: string): Promise<boolean> {
  try {
    await docker.getImage(imageId).inspect();
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw new Error(`could not inspect image ${imageId}`, { cause: err });
  }
}

function argv(value: string | string[] | null | undefined): string[] {
  if (value === null || value === undefined) return [];
  return typeof value === "string" ? [value] : value;
}

/** Force-removes an image by ID; an image that is already gone is not an error. */
export async function removeImage(docker: Docker, imageId: string): Promise<void> {
  try {
    await docker.getImage(imageId).remove({ force: true });
  } catch (err) {
    if (!isNotFound(err)) throw new Error(`could not remove image ${imageId}`, { cause: err });
  }
}

/**
 * The archive as a plain tar, entry for entry, except that manifest.json says `RepoTags: null` and the
 * legacy `repositories` file (which also tags) is dropped. The manifest is re-checked against what
 * inspectImageTarball saw, in case the file changed in between.
 */
function untaggedArchive(path: string, compressed: boolean, imageId: string): Readable {
  const pack = tarPack();
  const copy = forEachEntry(path, compressed, async (header, entry) => {
    const name = normalize(header.name);
    if (name === "repositories") {
      for await (const chunk of entry) void chunk;
    } else if (name === "manifest.json") {
      const manifest = parseManifest((await readCapped(entry, MAX_MANIFEST_BYTES, name)).toString("utf8"));
      if (`sha256:${configDigest(manifest.Config)}` !== imageId) {
        throw new SandboxRejection("the archive changed while it was being loaded");
      }
      const rewritten = Buffer.from(JSON.stringify([{ ...manifest, RepoTags: null }]));
      await new Promise<void>((resolve, reject) =>
        pack.entry({ ...header, size: rewritten.length }, rewritten, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
    } else {
      await new Promise<void>((resolve, reject) => {
        const sink = pack.entry({ ...header }, (err) => (err ? reject(err) : resolve()));
        entry.pipe(sink, (err) => err && reject(err));
      });
    }
  });
  copy.then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  // A Node stream for docker-modem. Destroying it (e.g. the engine answered early) stops the re-packing.
  const body = Readable.from(pack, { objectMode: false });
  body.once("close", () => pack.destroy());
  return body;
}

/** Reads the newline-delimited JSON progress stream to the end; returns the first error message, if any. */
async function firstProgressError(progress: NodeJS.ReadableStream): Promise<string | undefined> {
  let pending = "";
  let seen = 0;
  let failure: string | undefined;
  const consider = (line: string): void => {
    if (failure !== undefined || line.trim() === "") return;
    try {
      const message = JSON.parse(line) as { error?: unknown; errorDetail?: { message?: unknown } };
      const text = message.errorDetail?.message ?? message.error;
      if (text !== undefined) failure = typeof text === "string" ? text : JSON.stringify(text);
    } catch {
      // Not JSON: progress bars and the like; only `error` objects matter.
    }
  };
  for await (const chunk of progress) {
    const text = typeof chunk === "string" ? chunk : chunk.toString("utf8");
    seen += text.length;
    if (seen > MAX_PROGRESS_BYTES) continue; // keep draining so the engine can finish
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    lines.forEach(consider);
  }
  consider(pending);
  return failure;
}
