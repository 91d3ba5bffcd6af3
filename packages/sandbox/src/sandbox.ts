import type Docker from "dockerode";
import type { GpuGrant } from "./container-config.ts";
import { CpuPool } from "./cpu-pool.ts";
import type { TarballLimits } from "./image-tarball.ts";
import { imageExists } from "./docker.ts";
import { engineStorage, resolveTrustedImage, type EngineStorage, type TrustedImage } from "./engine-info.ts";
import {
  leaseImage,
  listLeases,
  releaseLease,
  type HeldLease,
  type ImageLease,
  type Released,
} from "./image-lease.ts";
import { layerChainsOf } from "./known-layers.ts";
import { loadImage, removeImage, type LoadedImage } from "./load-image.ts";
import { runSubmission, type RunResult, type RunSubmissionOptions } from "./run-submission.ts";

export interface SandboxOptions {
  /**
   * A trusted local image with `sleep`; holds /out open after the model exits. Best its ID (the
   * worker resolves its tag when it starts); a tag is resolved once, on first use. Either way the
   * keeper is created from that ID, never by tag.
   */
  keeperImage: string;
  /** Archive limits; defaults in DEFAULT_TARBALL_LIMITS. */
  tarballLimits?: Partial<TarballLimits>;
  /**
   * Our own images' references (e.g. the keeper's tag): an uploaded archive that names one is refused.
   * The keeper's, when given as a tag, is always among them.
   */
  reservedImageNames?: readonly string[];
  /** The only image architecture accepted (e.g. amd64). Default: the engine's. */
  architecture?: string;
  /** Cores models may be pinned to. Default: all of the engine's. */
  cores?: number[];
  /** GPUs granted to every run; none by default. */
  gpu?: GpuGrant;
  /**
   * Our own images (IDs) whose layers an uploaded image built on them need not send again: the
   * engine holds them for as long as the worker runs (known-layers.ts). Default: the keeper's. Used
   * on the classic image store only; an empty list sends every layer.
   */
  sharedLayerImages?: readonly string[];
}

interface Engine {
  architecture: string;
  pool: CpuPool;
  keeperImageId: string;
  imageStore: EngineStorage["imageStore"];
}

/** The engine-facing operations the worker needs, bound to one Docker connection. */
export class Sandbox {
  private engine: Promise<Engine> | undefined;

  constructor(
    private readonly docker: Docker,
    private readonly opts: SandboxOptions,
  ) {}

  /** Validates, loads (untagged) and confirms a `docker save` archive. Throws SandboxRejection for bad uploads. */
  async loadImage(path: string): Promise<LoadedImage> {
    const { architecture, keeperImageId, imageStore } = await this.engineFacts();
    const reservedNames = [
      ...(this.opts.reservedImageNames ?? []),
      ...(this.opts.keeperImage.startsWith("sha256:") ? [] : [this.opts.keeperImage]),
    ];
    // Asked on every load: an image of ours removed meanwhile contributes nothing, never a stale ID.
    // The containerd store reads an archive's layers its own way: everything is sent there.
    const knownChains =
      imageStore === "classic"
        ? await layerChainsOf(this.docker, this.opts.sharedLayerImages ?? [keeperImageId])
        : undefined;
    return loadImage(this.docker, path, {
      limits: this.opts.tarballLimits,
      architecture,
      reservedNames,
      ...(knownChains ? { knownChains } : {}),
    });
  }

  /**
   * The ID a trusted local image's tag names now (the keeper, the bundles' runtime image), or null if
   * the engine has no such image. The worker asks once, at start, and runs that ID from then on.
   */
  trustedImage(ref: string): Promise<TrustedImage | null> {
    return resolveTrustedImage(this.docker, ref);
  }

  /** The engine's image store (containerd or classic), its driver and its data root. */
  storage(): Promise<EngineStorage> {
    return engineStorage(this.docker);
  }

  /** Whether a local image of that name exists; any other failure to ask the engine throws. */
  hasImage(ref: string): Promise<boolean> {
    return imageExists(this.docker, ref);
  }

  removeImage(imageId: string): Promise<void> {
    return removeImage(this.docker, imageId);
  }

  /**
   * See image-lease.ts: a hold on a loaded image that every worker on this engine respects, certainly
   * over at `until` (epoch ms).
   */
  leaseImage(imageId: string, owner: string, until: number): Promise<ImageLease> {
    return leaseImage(this.docker, imageId, owner, until);
  }

  releaseLease(lease: ImageLease): Promise<Released> {
    return releaseLease(this.docker, lease);
  }

  listLeases(): Promise<HeldLease[]> {
    return listLeases(this.docker);
  }

  /** Runs on ceil(cpus) cores of the pool, the least used by this sandbox's other runs. */
  async runSubmission(opts: Omit<RunSubmissionOptions, "cpusetCpus" | "gpu">): Promise<RunResult> {
    const { pool, keeperImageId } = await this.engineFacts();
    const cores = pool.acquire(Math.ceil(opts.limits.cpus));
    try {
      return await runSubmission(this.docker, keeperImageId, {
        ...opts,
        cpusetCpus: cores.cpuset,
        ...(this.opts.gpu ? { gpu: this.opts.gpu } : {}),
      });
    } finally {
      cores.release();
    }
  }

  /** Asked of the engine once; a failed ask is retried on the next call. */
  private engineFacts(): Promise<Engine> {
    this.engine ??= (async () => {
      const needInfo = this.opts.architecture === undefined || this.opts.cores === undefined;
      const [version, info, keeper, storage] = await Promise.all([
        needInfo ? this.docker.version() : undefined,
        needInfo ? (this.docker.info() as Promise<{ NCPU?: number }>) : undefined,
        resolveTrustedImage(this.docker, this.opts.keeperImage),
        engineStorage(this.docker),
      ]);
      if (!keeper) throw new Error(`the keeper image ${this.opts.keeperImage} is not on the Docker engine`);
      const architecture = this.opts.architecture ?? version?.Arch ?? "";
      const cores = this.opts.cores ?? [...Array(Math.max(1, info?.NCPU ?? 1)).keys()];
      return {
        architecture,
        pool: new CpuPool(cores),
        keeperImageId: keeper.imageId,
        imageStore: storage.imageStore,
      };
    })().catch((err: unknown) => {
      this.engine = undefined;
      throw new Error(
        "could not ask the Docker engine for its architecture, CPUs, image store and keeper image",
        {
          cause: err,
        },
      );
    });
    return this.engine;
  }
}
