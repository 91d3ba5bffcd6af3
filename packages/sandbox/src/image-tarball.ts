import { stat } from "node:fs/promises";
import { ArchiveRejection, isGzipFile, walkTar, type EntryHandler } from "@holdout/archive";
import { asRejection } from "./errors.ts";
import { ImageArchiveCheck, type CheckedImage, type Outlet } from "./image-archive.ts";
import type { KnownLayerPlan } from "./known-layers.ts";

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
  /**
   * The archive's tar stream after gunzip (for a plain tar, the file), and separately what its
   * layers unpack to (each gzip layer decompressed as it streams by): the engine's disk use.
   */
  maxUncompressedBytes: number;
  maxLayers: number;
  /** The image config (JSON, kept in memory until the manifest names it). */
  maxConfigBytes: number;
  /**
   * Uncompressed bytes per compressed byte read so far, checked while streaming (after the first
   * RATIO_SLACK_BYTES), for the archive and for its gzip layers: a bomb stops after a few MiB.
   */
  maxCompressionRatio: number;
}

export const DEFAULT_TARBALL_LIMITS: TarballLimits = {
  maxCompressedBytes: 16 * 1024 ** 3,
  maxUncompressedBytes: 32 * 1024 ** 3,
  maxLayers: 100, // overlay2 stacks at most 128 lower layers
  maxConfigBytes: 4 * 1024 ** 2, // a real config is a few KiB; its history grows with layers
  maxCompressionRatio: 100, // docker save output compresses ~2-5x; runs of zeros far more
};

/** Members of a `docker save` archive: a layer, its json and VERSION, and a few more per image. */
const MAX_MEMBERS_PER_LAYER = 8;
const MAX_MEMBERS_BESIDES = 64;

/** The most members an archive within `limits` may have. */
export function maxEntries(limits: TarballLimits): number {
  return limits.maxLayers * MAX_MEMBERS_PER_LAYER + MAX_MEMBERS_BESIDES;
}

export interface ImagePolicy {
  limits?: Partial<TarballLimits>;
  /** The only architecture accepted (the engine's, e.g. amd64); any when undefined. */
  architecture?: string;
  /** This server's own image references (the keeper's): an archive that names one is refused. */
  reservedNames?: readonly string[];
  /**
   * Chain IDs of layers the engine holds for as long as this server runs (those of our own images):
   * a load leaves them out of what it sends (known-layers.ts). None by default.
   */
  knownChains?: ReadonlySet<string>;
}

/**
 * Streams a `docker save` archive (plain tar or gzip, told apart by magic bytes, not by file name) and
 * checks it without loading it: see ImageArchiveCheck for what is checked.
 */
export async function inspectImageTarball(path: string, policy: ImagePolicy = {}): Promise<ImageTarballInfo> {
  const archive = await openArchive(path, policy);
  const { imageId, manifest, config } = await readImageArchive(path, archive);
  return {
    imageId,
    repoTags: manifest.RepoTags ?? [],
    layers: manifest.Layers.length,
    compressed: archive.compressed,
    size: archive.size,
    architecture: config.architecture,
  };
}

export interface OpenedArchive {
  compressed: boolean;
  size: number;
  limits: TarballLimits;
  architecture?: string;
  reservedNames?: readonly string[];
}

/** The archive's format and size, refused outright when the file alone is over the limit. */
export async function openArchive(path: string, policy: ImagePolicy): Promise<OpenedArchive> {
  const limits = { ...DEFAULT_TARBALL_LIMITS, ...policy.limits };
  try {
    const [compressed, { size }] = await Promise.all([isGzipFile(path), stat(path)]);
    if (size > limits.maxCompressedBytes) {
      throw new ArchiveRejection(
        "too_large",
        `the archive is ${size} bytes; the limit is ${limits.maxCompressedBytes}`,
      );
    }
    return {
      compressed,
      size,
      limits,
      ...(policy.architecture ? { architecture: policy.architecture } : {}),
      ...(policy.reservedNames ? { reservedNames: policy.reservedNames } : {}),
    };
  } catch (err) {
    throw asRejection(err);
  }
}

/**
 * The one pass over an archive: every member through the bounded walk (two readers, raw header
 * check) and ImageArchiveCheck, the rebuilt members to `out` when given, then the whole-archive
 * checks. Archive refusals come out as SandboxRejection.
 */
export async function readImageArchive(
  path: string,
  archive: OpenedArchive,
  out?: Outlet,
  plan?: KnownLayerPlan,
): Promise<CheckedImage> {
  const { limits } = archive;
  const check = new ImageArchiveCheck(limits, out, plan);
  const handle: EntryHandler = (entry, body) => check.member(entry, body);
  try {
    await walkTar(
      path,
      {
        compressed: archive.compressed,
        limits: {
          maxTarBytes: limits.maxUncompressedBytes,
          maxCompressionRatio: limits.maxCompressionRatio,
          maxEntries: maxEntries(limits),
        },
        policy: { where: "the archive", kind: "outer" },
      },
      handle,
    );
    return check.finish(archive.architecture, archive.reservedNames);
  } catch (err) {
    throw asRejection(err);
  }
}
