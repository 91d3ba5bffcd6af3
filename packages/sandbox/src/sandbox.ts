import type Docker from "dockerode";
import type { GpuGrant } from "./container-config.ts";
import { CpuPool } from "./cpu-pool.ts";
import type { TarballLimits } from "./image-tarball.ts";
import { imageExists } from "./docker.ts";
import {
  leaseImage,
  listLeases,
  releaseLease,
  type HeldLease,
  type ImageLease,
  type Released,
} from "./image-lease.ts";
import { loadImage, removeImage, type LoadedImage } from "./load-image.ts";
import { runSubmission, type RunResult, type RunSubmissionOptions } from "./run-submission.ts";

export interface SandboxOptions {
  /** A trusted local image with `sleep`, e.g. holdout/base:bookworm; holds /out open after the model exits. */
  keeperImage: string;
  /** Archive limits; defaults in DEFAULT_TARBALL_LIMITS. */
  tarballLimits?: Partial<TarballLimits>;
  /** The only image architecture accepted (e.g. amd64). Default: the engine's. */
  architecture?: string;
  /** Cores models may be pinned to. Default: all of the engine's. */
  cores?: number[];
  /** GPUs granted to every run; none by default. */
  gpu?: GpuGrant;
}

interface Engine {
  architecture: string;
  pool: CpuPool;
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
    const { architecture } = await this.engineFacts();
    return loadImage(this.docker, path, { limits: this.opts.tarballLimits, architecture });
  }

  /**
   * The ID of a trusted local image named by tag (the competition's runtime image for code bundles),
   * resolved once per run so the run cannot change image midway if the tag moves.
   */
  async resolveImage(ref: string): Promise<{ imageId: string; size: number }> {
    try {
      const info = await this.docker.getImage(ref).inspect();
      return { imageId: info.Id, size: info.Size };
    } catch (err) {
      throw new Error(`the image ${ref} is not on the Docker engine`, { cause: err });
    }
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
    const { pool } = await this.engineFacts();
    const cores = pool.acquire(Math.ceil(opts.limits.cpus));
    try {
      return await runSubmission(this.docker, this.opts.keeperImage, {
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
      const [version, info] = needInfo
        ? await Promise.all([this.docker.version(), this.docker.info() as Promise<{ NCPU?: number }>])
        : [undefined, undefined];
      const architecture = this.opts.architecture ?? version?.Arch ?? "";
      const cores = this.opts.cores ?? [...Array(Math.max(1, info?.NCPU ?? 1)).keys()];
      return { architecture, pool: new CpuPool(cores) };
    })().catch((err: unknown) => {
      this.engine = undefined;
      throw new Error("could not ask the Docker engine for its architecture and CPUs", { cause: err });
    });
    return this.engine;
  }
}
