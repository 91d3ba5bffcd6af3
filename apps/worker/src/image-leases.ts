/**
 * Which loaded images this worker's evaluations still use. The same image may be submitted several
 * times; whichever evaluation loaded it, it is removed only when the last one using it is done, and
 * never while a load is in flight (that load may have found the image already there and counts on it).
 * An image that was on the engine before any of our loads (`preexisting`) is never ours to remove.
 *
 * Scope: one worker process. Workers sharing an engine do not see each other's leases; a run whose
 * image another worker removed fails as an infrastructure fault and is retried (and reloads it).
 */
export class ImageLeases {
  private readonly images = new Map<string, { users: number; ours: boolean }>();
  private loading = 0;
  private readonly idle: string[] = [];

  constructor(
    private readonly remove: (imageId: string) => Promise<void>,
    /** A failed removal leaves an unused image behind: worth a warning, not a failed evaluation. */
    private readonly onRemoveError: (err: unknown, imageId: string) => void,
  ) {}

  /** Runs `load` and leases its image; the caller must `release` it once done with it. */
  async acquire<T extends { imageId: string; preexisting: boolean }>(load: () => Promise<T>): Promise<T> {
    this.loading++;
    try {
      const loaded = await load();
      const entry = this.images.get(loaded.imageId) ?? { users: 0, ours: false };
      entry.users++;
      // Preexisting because another of our evaluations loaded it: still ours.
      entry.ours ||= !loaded.preexisting;
      this.images.set(loaded.imageId, entry);
      return loaded;
    } finally {
      this.loading--;
      await this.sweep();
    }
  }

  async release(imageId: string): Promise<void> {
    const entry = this.images.get(imageId);
    if (!entry) return;
    entry.users--;
    if (entry.users <= 0) this.idle.push(imageId);
    await this.sweep();
  }

  /** Removes idle images of ours, unless a load is in flight (it would then be swept after it). */
  private async sweep(): Promise<void> {
    if (this.loading > 0) return;
    for (const imageId of this.idle.splice(0)) {
      const entry = this.images.get(imageId);
      if (!entry || entry.users > 0) continue;
      this.images.delete(imageId);
      if (entry.ours) await this.remove(imageId).catch((err: unknown) => this.onRemoveError(err, imageId));
    }
  }
}
