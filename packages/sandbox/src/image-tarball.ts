import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { posix } from "node:path";
import { pipeline } from "node:stream";
import { createGunzip } from "node:zlib";
import { extract as tarExtract, type Extract, type Header } from "tar-stream";
import { SandboxRejection } from "./errors.ts";

export interface ImageTarballInfo {
  /** `sha256:<hex>` of the image config: the engine's image ID, the only name we run an image by. */
  imageId: string;
  /** Tags the archive asks for. Informational only: loadImage strips them (see load-image.ts). */
  repoTags: string[];
  layers: number;
  compressed: boolean;
  /** Size of the file as uploaded (compressed size for a .tar.gz). */
  size: number;
}

/** A `docker save` manifest and config are a few KiB; anything far larger is not one. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

// Legacy `<hex>.json` (engines before 25) or OCI-layout `blobs/sha256/<hex>` (engines 25 and later).
const CONFIG_PATH = /^(?:blobs\/sha256\/)?([0-9a-f]{64})(?:\.json)?$/;

export interface ManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

/**
 * Streams a `docker save` archive (plain tar or gzip, told apart by magic bytes, not by file name) and
 * checks that it holds exactly one image whose config is present and hashes to the digest it is named
 * by, so that the returned imageId is exactly what the engine will call the image.
 */
export async function inspectImageTarball(path: string): Promise<ImageTarballInfo> {
  const [compressed, { size }] = await Promise.all([isGzip(path), stat(path)]);
  const names = new Set<string>();
  const smallFileDigests = new Map<string, string>();
  let manifestText: string | undefined;

  await forEachEntry(path, compressed, async (header, body) => {
    const name = normalize(header.name);
    names.add(name);
    if (name === "manifest.json") {
      if (manifestText !== undefined) throw new SandboxRejection("the archive holds two manifest.json files");
      manifestText = (await readCapped(body, MAX_MANIFEST_BYTES, "manifest.json")).toString("utf8");
    } else if (header.type === "file" && header.size <= MAX_CONFIG_BYTES) {
      // The config is small but we only learn its name from the manifest, which may come last.
      const hash = createHash("sha256");
      for await (const chunk of bytes(body)) hash.update(chunk);
      smallFileDigests.set(name, hash.digest("hex"));
    } else {
      for await (const chunk of body) void chunk; // layers are the engine's to check
    }
  });

  if (manifestText === undefined) {
    throw new SandboxRejection("not a docker image archive: manifest.json is missing (use `docker save`)");
  }
  const entry = parseManifest(manifestText);
  const configName = normalize(entry.Config);
  const digest = configDigest(configName);
  if (digest === undefined) throw new SandboxRejection(`unexpected image config path "${entry.Config}"`);
  const actual = smallFileDigests.get(configName);
  if (actual === undefined) {
    throw new SandboxRejection(
      names.has(configName)
        ? `image config "${entry.Config}" is not a regular file of at most ${MAX_CONFIG_BYTES} bytes`
        : `image config "${entry.Config}" named in manifest.json is missing from the archive`,
    );
  }
  if (actual !== digest)
    throw new SandboxRejection(`image config "${entry.Config}" does not match its digest`);
  for (const layer of entry.Layers) {
    if (!names.has(normalize(layer))) {
      throw new SandboxRejection(`layer "${layer}" named in manifest.json is missing from the archive`);
    }
  }
  return {
    imageId: `sha256:${digest}`,
    repoTags: entry.RepoTags ?? [],
    layers: entry.Layers.length,
    compressed,
    size,
  };
}

export function parseManifest(text: string): ManifestEntry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SandboxRejection("manifest.json is not valid JSON");
  }
  if (!Array.isArray(parsed)) throw new SandboxRejection("manifest.json is not a list of images");
  if (parsed.length !== 1) {
    throw new SandboxRejection(`the archive must hold exactly one image; it holds ${parsed.length}`);
  }
  const entry: unknown = parsed[0];
  if (typeof entry !== "object" || entry === null)
    throw new SandboxRejection("manifest.json entry is malformed");
  const { Config, RepoTags, Layers } = entry as Record<string, unknown>;
  if (typeof Config !== "string" || Config === "") {
    throw new SandboxRejection("manifest.json names no image config");
  }
  if (!isStringArray(Layers)) throw new SandboxRejection("manifest.json has a malformed Layers list");
  if (RepoTags !== null && RepoTags !== undefined && !isStringArray(RepoTags)) {
    throw new SandboxRejection("manifest.json has a malformed RepoTags list");
  }
  return { Config, RepoTags: RepoTags ?? null, Layers };
}

/** The hex digest a config member is named by, or undefined for a name no `docker save` produces. */
export function configDigest(configPath: string): string | undefined {
  return CONFIG_PATH.exec(normalize(configPath))?.[1];
}

export async function isGzip(path: string): Promise<boolean> {
  const file = await open(path, "r");
  try {
    const magic = Buffer.alloc(2);
    const { bytesRead } = await file.read(magic, 0, 2, 0);
    return bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    await file.close();
  }
}

/** One member of an archive being read; tar-stream's own types do not name it. */
export type TarEntry = Extract extends AsyncIterable<infer E> ? E : never;
type EntryHandler = (header: Header, body: TarEntry) => Promise<void>;

/**
 * Runs `handle` on every entry in order. Damage to the archive (bad gzip, bad tar header, truncation)
 * is the submitter's fault; failing to read our own file is not.
 */
export async function forEachEntry(path: string, compressed: boolean, handle: EntryHandler): Promise<void> {
  // Large buffers: with zlib's 16 KiB default, gunzip alone runs about 4x slower.
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  let readFailed = false;
  file.once("error", () => (readFailed = true));
  const extract = tarExtract();
  const done = new Promise<void>((resolve, reject) => {
    const onEnd = (err: Error | null | undefined): void => (err ? reject(err) : resolve());
    if (compressed) pipeline(file, createGunzip({ chunkSize: 256 << 10 }), extract, onEnd);
    else pipeline(file, extract, onEnd);
  });
  // A failure rejects both `done` and the iterator below, in either order; `await done` still sees it.
  done.catch(() => undefined);
  try {
    for await (const entry of extract) {
      await handle(entry.header, entry);
    }
    await done;
  } catch (err) {
    file.destroy();
    if (err instanceof SandboxRejection || readFailed) throw err;
    throw new SandboxRejection(`not a valid ${compressed ? "gzip-compressed " : ""}tar archive`, {
      cause: err,
    });
  }
}

/** Reads a whole (small) member, refusing one larger than `max`. */
export async function readCapped(body: TarEntry, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of bytes(body)) {
    total += chunk.length;
    if (total > max) throw new SandboxRejection(`${what} is larger than ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** tar-stream yields untyped chunks; they are always Buffers. */
export async function* bytes(stream: AsyncIterable<unknown>): AsyncGenerator<Buffer> {
  for await (const chunk of stream) {
    if (!Buffer.isBuffer(chunk)) throw new TypeError("expected a Buffer chunk");
    yield chunk;
  }
}

/** Archive member names as the engine resolves them: `./a/b` and `a//b` are `a/b`. */
export function normalize(name: string): string {
  return posix.normalize(name).replace(/^(\.\/|\/)+/, "");
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}
