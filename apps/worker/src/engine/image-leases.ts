import { withLock, type Db } from "@holdout/db";
import { ImageGone, type ImageLease, type LoadedImage, type Released, type Sandbox } from "@holdout/sandbox";
import type { Logger } from "../logger.ts";

/** Loads after which the image was gone every time before it could be leased: something is wrong. */
const MAX_LOADS = 3;

export interface ImageLeasesOptions {
  /** How long after it is taken a lease is certainly over: past it, any worker may release it. */
  ttlMs: number;
  /**
   * Runs `fn` while no other worker of this deployment takes or releases a lease on the same image.
   * The engine checks and deletes in separate steps, so a tag taken while another worker's release
   * removes the image could otherwise be deleted with it (and that worker's run find no image).
   */
  serialize<T>(imageId: string, fn: () => Promise<T>): Promise<T>;
  /** A release that failed, or found the image still in use, leaves it for a later sweep: a warning. */
  onReleaseProblem(lease: ImageLease, problem: { err?: unknown; released?: Released }): void;
}

/**
 * Loaded images are held by engine-side leases (see @holdout/sandbox image-lease.ts), one per
 * evaluation: the same image submitted several times, by evaluations of this worker or of others
 * sharing the engine, is removed only when the last evaluation using it releases it, and an image
 * that was on the engine under a tag of its own (ours or an organizer's) only ever loses the lease.
 * Every lease and release of this worker, whether for its own run, an earlier attempt's or a
 * sweep's, goes through here.
 */
export class ImageLeases {
  constructor(
    private readonly sandbox: Pick<Sandbox, "leaseImage" | "releaseLease" | "listLeases">,
    private readonly opts: ImageLeasesOptions,
  ) {}

  /**
   * Runs `load` and leases its image for `owner` (the submission). Another holder may release the
   * image between the load and the lease, or while the load found it already there; it is then
   * loaded again.
   */
  async acquire(
    owner: string,
    load: () => Promise<LoadedImage>,
  ): Promise<LoadedImage & { lease: ImageLease }> {
    for (let loads = 1; ; loads++) {
      try {
        const loaded = await load();
        const until = Date.now() + this.opts.ttlMs;
        const lease = await this.opts.serialize(loaded.imageId, () =>
          this.sandbox.leaseImage(loaded.imageId, owner, until),
        );
        return { ...loaded, lease };
      } catch (err) {
        if (!(err instanceof ImageGone) || loads >= MAX_LOADS) throw err;
      }
    }
  }

  /** Releases a lease (and the image with the last one); problems are reported, never thrown. */
  async release(lease: ImageLease): Promise<void> {
    try {
      const released = await this.opts.serialize(lease.imageId, () => this.sandbox.releaseLease(lease));
      if (released === "image in use") this.opts.onReleaseProblem(lease, { released });
    } catch (err) {
      this.opts.onReleaseProblem(lease, { err });
    }
  }

  async releaseAll(leases: readonly ImageLease[]): Promise<void> {
    for (const lease of leases) await this.release(lease);
  }

  /** Releases every lease of `owner` on the engine (an earlier attempt's: this process may not know it). */
  async releaseOwnedBy(owner: string): Promise<void> {
    await this.releaseAll((await this.sandbox.listLeases()).filter((lease) => lease.owner === owner));
  }
}

/**
 * This worker's ImageLeases: a lease outlives its evaluation (both runs' wall clocks and an hour for
 * loading and cleanup), and takes and releases on one image are serialized across the deployment
 * by a PostgreSQL advisory lock.
 */
export function imageLeasesFor(
  sandbox: ConstructorParameters<typeof ImageLeases>[0],
  opts: { db: Db; runsMs: number; log: Logger },
): ImageLeases {
  return new ImageLeases(sandbox, {
    ttlMs: opts.runsMs + 3600_000,
    serialize: (imageId, fn) => withLock(opts.db, `holdout:image-lease:${imageId}`, fn),
    onReleaseProblem: (lease, { err, released }) =>
      opts.log.warn(
        { err, lease: lease.ref, released },
        "could not release an image lease; a later sweep releases it once its submission has ended",
      ),
  });
}
