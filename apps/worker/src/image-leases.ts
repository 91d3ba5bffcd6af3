import { ImageGone, type ImageLease, type LoadedImage, type Sandbox } from "@holdout/sandbox";

/** Loads after which the image was gone every time before it could be leased: something is wrong. */
const MAX_LOADS = 3;

/**
 * Loaded images are held by engine-side leases (see @holdout/sandbox image-lease.ts), one per
 * evaluation: the same image submitted several times, by evaluations of this worker or of others
 * sharing the engine, is removed only when the last evaluation using it releases it, and an image
 * that was on the engine under a tag of its own (ours or an organizer's) only ever loses the lease.
 */
export class ImageLeases {
  constructor(
    private readonly sandbox: Pick<Sandbox, "leaseImage" | "releaseLease">,
    /** A failed release leaves an unused image behind: worth a warning, not a failed evaluation. */
    private readonly onReleaseError: (err: unknown, lease: ImageLease) => void,
  ) {}

  /**
   * Runs `load` and leases its image for `owner` (the submission). Another holder may release the
   * image between the load and the lease; it is then loaded again.
   */
  async acquire(
    owner: string,
    load: () => Promise<LoadedImage>,
  ): Promise<LoadedImage & { lease: ImageLease }> {
    for (let loads = 1; ; loads++) {
      const loaded = await load();
      try {
        return { ...loaded, lease: await this.sandbox.leaseImage(loaded.imageId, owner) };
      } catch (err) {
        if (!(err instanceof ImageGone) || loads >= MAX_LOADS) throw err;
      }
    }
  }

  async release(lease: ImageLease): Promise<void> {
    await this.sandbox.releaseLease(lease).catch((err: unknown) => this.onReleaseError(err, lease));
  }
}
