import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { posix } from "node:path";
import { pipeline, Transform, type TransformCallback } from "node:stream";
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
  /** The image config's `architecture`, e.g. amd64. */
  architecture: string;
}

/** What an archive may cost us to read and load. Exceeding any is the submitter's fault. */
export interface TarballLimits {
  /** The file as uploaded. */
  maxCompressedBytes: number;
  /** The tar stream after gunzip (for a plain tar, the file). */
  maxUncompressedBytes: number;
  maxLayers: number;
  /**
   * Uncompressed bytes per compressed byte read so far, checked while streaming (after the first
   * RATIO_SLACK_BYTES), so a gzip bomb stops after a few MiB rather than after inflating everything.
   */
  maxCompressionRatio: number;
}

export const DEFAULT_TARBALL_LIMITS: TarballLimits = {
  maxCompressedBytes: 16 * 1024 ** 3,
  maxUncompressedBytes: 32 * 1024 ** 3,
  maxLayers: 100, // overlay2 stacks at most 128 lower layers
  maxCompressionRatio: 100, // docker save output compresses ~2-5x; runs of zeros far more
};

/** Uncompressed bytes always allowed before the ratio applies: small archives compress well. */
export const RATIO_SLACK_BYTES = 64 * 1024 * 1024;

export interface ImagePolicy {
  limits?: Partial<TarballLimits>;
  /** The only architecture accepted (the engine's, e.g. amd64); any when undefined. */
  architecture?: string;
}

/** A `docker save` manifest and config are a few KiB; anything far larger is not one. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** JSON members kept in memory until the manifest names the config (it may come last). */
const MAX_KEPT_JSON_BYTES = 16 * 1024 * 1024;

// Legacy `<hex>.json` (engines before 25) or OCI-layout `blobs/sha256/<hex>` (engines 25 and later).
const CONFIG_PATH = /^(?:blobs\/sha256\/)?([0-9a-f]{64})(?:\.json)?$/;

export interface ManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

/**
 * Streams a `docker save` archive (plain tar or gzip, told apart by magic bytes, not by file name) and
 * checks it without loading it: see ArchiveChecker for what is checked.
 */
export async function inspectImageTarball(path: string, policy: ImagePolicy = {}): Promise<ImageTarballInfo> {
  const archive = await openArchive(path, policy);
  const checker = new ArchiveChecker(archive.limits);
  await forEachEntry(
    path,
    archive.compressed,
    (header, body) => checker.member(header, body),
    archive.limits,
  );
  const { imageId, manifest, config } = checker.finish(policy.architecture);
  return {
    imageId,
    repoTags: manifest.RepoTags ?? [],
    layers: manifest.Layers.length,
    compressed: archive.compressed,
    size: archive.size,
    architecture: config.architecture,
  };
}

/** The archive's format and size, refused outright when the file alone is over the limit. */
export async function openArchive(
  path: string,
  policy: ImagePolicy,
): Promise<{ compressed: boolean; size: number; limits: TarballLimits }> {
  const limits = { ...DEFAULT_TARBALL_LIMITS, ...policy.limits };
  const [compressed, { size }] = await Promise.all([isGzip(path), stat(path)]);
  if (size > limits.maxCompressedBytes) {
    throw new SandboxRejection(`the archive is ${size} bytes; the limit is ${limits.maxCompressedBytes}`);
  }
  return { compressed, size, limits };
}

/** Where a member's bytes go on to (the engine, for a load), one chunk at a time. */
export interface MemberSink {
  write(chunk: Buffer): Promise<void>;
  end(): Promise<void>;
}

/** What the whole-archive checks established. */
export interface CheckedImage {
  /** `sha256:<hex>`: the engine's image ID. */
  imageId: string;
  manifest: ManifestEntry;
  config: ImageConfigSummary;
}

/**
 * The checks on a `docker save` archive, fed one member at a time as the archive streams by, so an
 * archive is read once whether it is only inspected or also loaded. Per member (before any of its
 * bytes are passed on): no member that escapes the archive and none that `docker save` never writes.
 * Once all are seen (finish): exactly one image, a sane manifest, a layer count within the limits,
 * every layer present, and an image config that hashes to the digest it is named by (so the imageId
 * is exactly what the engine will call the image) and describes something we would run: linux, the
 * engine's architecture, an ENTRYPOINT or CMD, no VOLUME. Sizes and the compression ratio are
 * forEachEntry's to enforce.
 */
export class ArchiveChecker {
  readonly #limits: TarballLimits;
  readonly #names = new Set<string>();
  readonly #smallFileDigests = new Map<string, string>();
  readonly #jsonMembers = new Map<string, Buffer>();
  #keptJson = 0;
  #manifestText: string | undefined;

  constructor(limits: TarballLimits) {
    this.#limits = limits;
  }

  /**
   * Checks one member and consumes its body, passing its bytes to `forward(header)` when given.
   * Two members are never passed on: manifest.json (kept for finish, which judges the archive; a
   * loader writes its own, last) and `repositories` (legacy tags).
   */
  async member(header: Header, body: TarEntry, forward?: (header: Header) => MemberSink): Promise<void> {
    checkMember(header);
    const name = normalize(header.name);
    this.#names.add(name);
    if (name === "manifest.json") {
      if (this.#manifestText !== undefined) {
        throw new SandboxRejection("the archive holds two manifest.json files");
      }
      this.#manifestText = (await readCapped(body, MAX_MANIFEST_BYTES, "manifest.json")).toString("utf8");
      return;
    }
    if (name === "repositories") {
      for await (const chunk of body) void chunk;
      return;
    }
    const sink = forward?.(header);
    // The config is small, but only the manifest (which may come last) says which member it is:
    // every member that could be one is hashed, and kept if it is JSON.
    const hash =
      header.type === "file" && header.size <= MAX_CONFIG_BYTES && configDigest(name) !== undefined
        ? createHash("sha256")
        : undefined;
    const chunks: Buffer[] = [];
    let json: boolean | undefined;
    for await (const chunk of bytes(body)) {
      if (hash) {
        hash.update(chunk);
        json ??= chunk[0] === 0x7b; // `{`: a config, not a layer blob
        if (json) chunks.push(chunk);
      }
      if (sink) await sink.write(chunk);
    }
    if (sink) await sink.end();
    if (hash) {
      this.#smallFileDigests.set(name, hash.digest("hex"));
      if (json && this.#keptJson + header.size <= MAX_KEPT_JSON_BYTES) {
        this.#keptJson += header.size;
        this.#jsonMembers.set(name, Buffer.concat(chunks));
      }
    }
  }

  /** The checks that need the whole archive; throws a SandboxRejection saying what is wrong. */
  finish(architecture: string | undefined): CheckedImage {
    if (this.#manifestText === undefined) {
      // A code bundle sent as an image is the usual cause; say so, naming a file that shows it.
      const source = [...this.#names].find((name) => SOURCE_FILE.test(name));
      throw new SandboxRejection(
        source === undefined
          ? "not a docker image archive: manifest.json is missing (use `docker save`)"
          : `not a docker image archive: manifest.json is missing, and it holds source code (${JSON.stringify(source.slice(0, 100))}); a code bundle is sent in the \`bundle\` field, an image (\`docker save\` output) in \`image\``,
      );
    }
    const manifest = parseManifest(this.#manifestText);
    if (manifest.Layers.length > this.#limits.maxLayers) {
      throw new SandboxRejection(
        `the image has ${manifest.Layers.length} layers; the limit is ${this.#limits.maxLayers}`,
      );
    }
    const configName = normalize(manifest.Config);
    const digest = configDigest(configName);
    if (digest === undefined) throw new SandboxRejection(`unexpected image config path "${manifest.Config}"`);
    const actual = this.#smallFileDigests.get(configName);
    if (actual === undefined) {
      throw new SandboxRejection(
        this.#names.has(configName)
          ? `image config "${manifest.Config}" is not a regular file of at most ${MAX_CONFIG_BYTES} bytes`
          : `image config "${manifest.Config}" named in manifest.json is missing from the archive`,
      );
    }
    if (actual !== digest) {
      throw new SandboxRejection(`image config "${manifest.Config}" does not match its digest`);
    }
    for (const layer of manifest.Layers) {
      if (!this.#names.has(normalize(layer))) {
        throw new SandboxRejection(`layer "${layer}" named in manifest.json is missing from the archive`);
      }
    }
    const configBytes = this.#jsonMembers.get(configName);
    if (configBytes === undefined)
      throw new SandboxRejection(`image config "${manifest.Config}" is not JSON`);
    const config = parseImageConfig(configBytes);
    const unrunnable = whyUnrunnable(config, architecture);
    if (unrunnable !== undefined) throw new SandboxRejection(unrunnable);
    return { imageId: `sha256:${digest}`, manifest, config };
  }
}

/** The parts of an image config (`docker image inspect`'s Os, Architecture, Config) we decide on. */
export interface ImageConfigSummary {
  os: string;
  architecture: string;
  entrypoint: string[];
  cmd: string[];
  volumes: string[];
}

function parseImageConfig(bytes: Buffer): ImageConfigSummary {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new SandboxRejection("the image config is not valid JSON");
  }
  const root = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const inner = (typeof root.config === "object" && root.config !== null ? root.config : {}) as Record<
    string,
    unknown
  >;
  const argv = (v: unknown): string[] => (isStringArray(v) ? v : typeof v === "string" ? [v] : []);
  const volumes =
    typeof inner.Volumes === "object" && inner.Volumes !== null ? Object.keys(inner.Volumes) : [];
  return {
    os: typeof root.os === "string" ? root.os : "",
    architecture: typeof root.architecture === "string" ? root.architecture : "",
    entrypoint: argv(inner.Entrypoint),
    cmd: argv(inner.Cmd),
    volumes,
  };
}

/**
 * Image settings we refuse: a foreign OS or architecture would fail at start (and look like our
 * fault); nothing to run likewise; a VOLUME would be a writable mount outside /out and /tmp.
 * Also applied to the engine's own inspect after loading, in case the two disagree.
 */
export function whyUnrunnable(c: ImageConfigSummary, architecture: string | undefined): string | undefined {
  if (c.os !== "linux") return `the image is for "${c.os}", not linux`;
  if (architecture !== undefined && c.architecture !== architecture) {
    return `the image is built for "${c.architecture}"; this server runs ${architecture} images (docker build --platform linux/${architecture})`;
  }
  if (c.entrypoint.length === 0 && c.cmd.length === 0) {
    return "the image has neither ENTRYPOINT nor CMD, so there is nothing to run";
  }
  if (c.volumes.length > 0) {
    return `the image declares VOLUME ${c.volumes.join(", ")}; remove it: a model may write only to /out and /tmp`;
  }
  return undefined;
}

/** Files of a code bundle that a `docker save` archive never holds (its files are JSON and layers). */
const SOURCE_FILE = /\.(py|ipynb|r|jl|sh|js|ts)$|(^|\/)requirements\.txt$/i;

/** Members that could land outside the archive's own tree, or that `docker save` never writes. */
function checkMember(header: Header): void {
  const raw = header.name;
  if (raw.startsWith("/") || raw.split("/").includes("..")) {
    throw new SandboxRejection(`the archive member "${raw}" points outside the archive`);
  }
  if (header.type === "file" || header.type === "directory") return;
  if (header.type === "symlink" || header.type === "link") {
    // docker save links identical layers to each other, e.g. `a/layer.tar -> ../b/layer.tar`.
    const target = header.linkname ?? "";
    const base = header.type === "symlink" ? posix.dirname(raw) : ".";
    const resolved = posix.normalize(posix.join(base, target));
    if (target.startsWith("/") || resolved === ".." || resolved.startsWith("../")) {
      throw new SandboxRejection(`the archive member "${raw}" links outside the archive (to "${target}")`);
    }
    return;
  }
  throw new SandboxRejection(`the archive member "${raw}" is a ${header.type ?? "special file"}`);
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
  for (const member of [Config, ...Layers]) {
    if (member.startsWith("/") || member.split("/").includes("..")) {
      throw new SandboxRejection(`manifest.json names "${member}", outside the archive`);
    }
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
 * is the submitter's fault; failing to read our own file is not. With `limits`, the stream is cut as
 * soon as the uncompressed size or the compression ratio goes past them.
 */
export async function forEachEntry(
  path: string,
  compressed: boolean,
  handle: EntryHandler,
  limits?: TarballLimits,
): Promise<void> {
  // Large buffers: with zlib's 16 KiB default, gunzip alone runs about 4x slower.
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  let readFailed = false;
  file.once("error", () => (readFailed = true));
  const extract = tarExtract();
  let exceeded: SandboxRejection | undefined;
  let compressedBytes = 0;
  const countIn = new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      compressedBytes += chunk.length;
      done(null, chunk);
    },
  });
  let uncompressedBytes = 0;
  const countOut = new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      uncompressedBytes += chunk.length;
      if (limits && uncompressedBytes > limits.maxUncompressedBytes) {
        exceeded ??= new SandboxRejection(
          `the archive unpacks to more than ${limits.maxUncompressedBytes} bytes, the limit`,
        );
      } else if (
        limits &&
        compressed &&
        uncompressedBytes > RATIO_SLACK_BYTES &&
        uncompressedBytes > limits.maxCompressionRatio * compressedBytes
      ) {
        exceeded ??= new SandboxRejection(
          `the archive expands more than ${limits.maxCompressionRatio} times when decompressed; refusing a likely gzip bomb`,
        );
      }
      done(exceeded ?? null, exceeded ? undefined : chunk);
    },
  });
  const done = new Promise<void>((resolve, reject) => {
    const onEnd = (err: Error | null | undefined): void => (err ? reject(err) : resolve());
    if (compressed) pipeline(file, countIn, createGunzip({ chunkSize: 256 << 10 }), countOut, extract, onEnd);
    else pipeline(file, countOut, extract, onEnd);
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
    if (exceeded) throw exceeded;
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
