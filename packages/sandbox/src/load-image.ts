import { Readable } from "node:stream";
import type Docker from "dockerode";
import { pack as tarPack, type Pack } from "tar-stream";
import { imageExists, isNotFound } from "./docker.ts";
import { SandboxRejection } from "./errors.ts";
import type { ManifestEntry, RebuiltHeader } from "./image-archive.ts";
import { whyUnrunnable } from "./image-config.ts";
import type { MemberSink } from "./image-layer.ts";
import { ImageGone } from "./image-lease.ts";
import { maxEntries, openArchive, readImageArchive, type ImagePolicy } from "./image-tarball.ts";
import { planKnownLayers } from "./known-layers.ts";
import { summariseEngineError } from "./engine-errors.ts";

export interface LoadedImage {
  imageId: string;
  /** `docker image inspect` Size: the unpacked size on the engine, in bytes. */
  size: number;
  /**
   * The engine already held this image before the load (the same image submitted twice, or a
   * tarball of one of our own images). Such an image is not the run's to remove.
   */
  preexisting: boolean;
  /** Layers the engine already held (those of our own images), so not sent: known-layers.ts. */
  layersNotSent: number;
}

/** With `quiet`, a load answers a line or two; more than this is not a progress stream worth keeping. */
const MAX_PROGRESS_BYTES = 1024 * 1024;

/**
 * How far the pass may read ahead of the engine. With the streams' 16 KiB defaults the file reads and
 * the socket writes take turns; with this much buffered they overlap (side by side with a raw stream
 * and `docker load`: 0.85x -> 0.90x of `docker load`'s speed).
 */
const SEND_BUFFER_BYTES = 8 * 1024 * 1024;

/** The engine answered or hung up while the archive was still being sent. */
class LoadInterrupted extends Error {}

/**
 * Loads a `docker save` archive in one pass and confirms the engine now holds the image under the
 * expected ID. The file is read once: each member is checked (image-archive.ts) before its bytes go
 * on to the engine, and the archive the engine receives is rebuilt as it streams by:
 *
 * - Only the layers (as they stream), the config and manifest.json reach the engine, each under a
 *   header of ours (name, size, type, link, fixed mode and mtime; no PAX records, no owner).
 * - The config, then manifest.json, are written last, once the whole-archive checks have passed.
 *   The engine loads nothing from an archive without a manifest, and an archive that fails a check
 *   is cut off before it (the request is aborted, so the engine sees a broken upload, not a short
 *   archive).
 * - Tags are removed (`RepoTags: null`; no `repositories`, no index.json): `docker load` would
 *   otherwise move any tag it names (say our keeper or runtime image) onto the submitter's image.
 *   Loaded images are untagged and only ever addressed by ID.
 * - A gzip archive reaches the engine decompressed, so the size and ratio limits hold for it too.
 */
export async function loadImage(
  docker: Docker,
  path: string,
  policy: ImagePolicy = {},
): Promise<LoadedImage> {
  const archive = await openArchive(path, policy);
  // Which layers the engine holds already, from the headers alone (a plain tar only: seeking in a
  // gzip stream means reading it); the pass below confirms it.
  const plan =
    policy.knownChains && !archive.compressed
      ? await planKnownLayers(
          path,
          { maxEntries: maxEntries(archive.limits), maxConfigBytes: archive.limits.maxConfigBytes },
          policy.knownChains,
        )
      : undefined;
  const pack = tarPack({ highWaterMark: SEND_BUFFER_BYTES });
  // A Node stream for docker-modem. Destroying it (the engine answered early) stops the re-packing.
  const body = Readable.from(pack, { objectMode: false, highWaterMark: SEND_BUFFER_BYTES });
  body.once("close", () => pack.destroy());
  const abort = new AbortController();
  const loading = docker.loadImage(body, { quiet: true, abortSignal: abort.signal });
  // Any answer before the archive is complete stops the sending; a sink waiting on the engine must
  // not wait forever.
  let interrupted: LoadInterrupted | undefined;
  const stopped = loading.then(
    () => {
      throw (interrupted ??= new LoadInterrupted("the engine answered before the archive was complete"));
    },
    (err: unknown) => {
      throw (interrupted ??= new LoadInterrupted("the engine stopped reading the archive", { cause: err }));
    },
  );
  stopped.catch(() => undefined); // raced below; settling after success is expected

  let imageId: string;
  let preexisting: boolean;
  let layersNotSent: number;
  try {
    const checked = await readImageArchive(path, archive, (h) => packSink(pack, h, stopped), plan);
    imageId = checked.imageId;
    layersNotSent = checked.layersNotSent;
    preexisting = await imageExists(docker, imageId);
    await writeMember(pack, checked.configName, checked.configBytes, stopped);
    await writeManifest(pack, checked.manifest, stopped);
    pack.finalize();
  } catch (err) {
    // The walk may have wrapped the engine's side of a failure as a bad archive: look inside.
    interrupted ??= interruptionIn(err);
    if (interrupted === undefined) {
      // Ours to stop: a rejected archive, or a failure reading it. No manifest was sent.
      abort.abort();
      body.destroy();
      await loading.catch(() => undefined);
      throw err;
    }
    // The engine gave up first; what it said is the reason (a rejection of the content), and if it
    // said nothing, the engine failed us.
    const said = await loading.then(firstProgressError, (e: unknown) =>
      isDiskFull(e) ? String(e) : undefined,
    );
    body.destroy();
    if (said !== undefined) throw summariseEngineError(said);
    throw interrupted;
  }

  try {
    const failure = await firstProgressError(
      await loading.catch((err: unknown) => {
        // The engine's 500 for a disk that filled while it unpacked: the image's size is the cause.
        if (isDiskFull(err)) throw summariseEngineError(String(err), { cause: err });
        throw err;
      }),
    );
    if (failure !== undefined) throw summariseEngineError(failure);
  } finally {
    body.destroy();
  }
  let inspected: Docker.ImageInspectInfo;
  try {
    inspected = await docker.getImage(imageId).inspect();
  } catch (err) {
    // The same image was on the engine under another evaluation's lease, released meanwhile: the
    // engine deleted what this load had found already there. Loading again brings it back.
    if (isNotFound(err)) throw new ImageGone(`image ${imageId} was removed as it was loaded`, { cause: err });
    throw new Error(`could not inspect image ${imageId} after loading it`, { cause: err });
  }
  // The engine's own view, in case it reads the config differently from us.
  const unrunnable = whyUnrunnable(
    {
      os: inspected.Os,
      architecture: inspected.Architecture,
      entrypoint: argv(inspected.Config.Entrypoint),
      cmd: argv(inspected.Config.Cmd),
      volumes: Object.keys(inspected.Config.Volumes ?? {}),
      env: inspected.Config.Env ?? [],
    },
    policy.architecture,
  );
  if (unrunnable !== undefined) {
    if (!preexisting) await removeImage(docker, imageId);
    throw new SandboxRejection(unrunnable.sentence, { code: unrunnable.code });
  }
  return { imageId, size: inspected.Size, preexisting, layersNotSent };
}

function interruptionIn(err: unknown): LoadInterrupted | undefined {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e instanceof LoadInterrupted) return e;
  }
  return undefined;
}

function isDiskFull(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (/no space left on device/i.test(e.message)) return true;
  }
  return false;
}

/**
 * One member of the rebuilt archive; every wait also ends when the engine stops reading. The
 * header is made here from the whitelisted fields alone: fixed mode, owner and mtime, no PAX.
 */
function packSink(pack: Pack, header: RebuiltHeader, stopped: Promise<never>): MemberSink {
  let entry!: ReturnType<Pack["entry"]>;
  const written = new Promise<void>((resolve, reject) => {
    entry = pack.entry(packHeader(header), (err) => (err ? reject(err) : resolve()));
  });
  written.catch(() => undefined); // awaited in end(); a destroyed pack must not count as unhandled
  return {
    async write(chunk) {
      if (!entry.write(chunk)) await Promise.race([drained(entry), stopped]);
    },
    async end() {
      entry.end(undefined);
      await Promise.race([written, stopped]);
    },
  };
}

/** The tar header of a rebuilt member: the whitelisted fields, and fixed mode, owner and mtime. */
export function packHeader(header: RebuiltHeader): Parameters<Pack["entry"]>[0] {
  return {
    name: header.name,
    type: header.type,
    size: header.size,
    mode: header.type === "file" ? 0o644 : 0o755,
    mtime: new Date(0),
    uid: 0,
    gid: 0,
    ...(header.linkname === undefined ? {} : { linkname: header.linkname }),
  };
}

function drained(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      stream.off("close", onClose);
      resolve();
    };
    const onClose = (): void => {
      stream.off("drain", onDrain);
      reject(new LoadInterrupted("the engine stopped reading the archive"));
    };
    stream.once("drain", onDrain);
    stream.once("close", onClose);
  });
}

/** manifest.json as the engine gets it: the checked image, with no tags. */
async function writeManifest(pack: Pack, manifest: ManifestEntry, stopped: Promise<never>): Promise<void> {
  const { Config, Layers } = manifest;
  const bytes = Buffer.from(JSON.stringify([{ Config, RepoTags: null, Layers }]));
  await writeMember(pack, "manifest.json", bytes, stopped);
}

async function writeMember(pack: Pack, name: string, bytes: Buffer, stopped: Promise<never>): Promise<void> {
  const sink = packSink(pack, { name, type: "file", size: bytes.length }, stopped);
  await sink.write(bytes);
  await sink.end();
}

function argv(value: string | string[] | null | undefined): string[] {
  if (value === null || value === undefined) return [];
  return typeof value === "string" ? [value] : value;
}

/** Force-removes an image by ID; an image that is already gone is not an error. */
export async function removeImage(docker: Docker, imageId: string): Promise<void> {
  try {
    // noprune: only this image, never its untagged parents (other images' build cache).
    await docker.getImage(imageId).remove({ force: true, noprune: true });
  } catch (err) {
    if (!isNotFound(err)) throw new Error(`could not remove image ${imageId}`, { cause: err });
  }
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
