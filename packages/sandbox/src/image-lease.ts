import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import { isNotFound } from "./docker.ts";

/**
 * Leases on loaded images, kept by the engine itself so that workers sharing an engine agree on them.
 * A lease is a tag of its own, `holdout-lease/<owner>:<nonce>` (the owner is a submission id). The
 * engine deletes an image when its last tag goes and no container uses it, and never while another
 * tag remains: releasing a lease removes only that tag, so an image goes exactly when its last lease
 * does, and an image tagged by anyone else (our base or runtime image, an organizer's) only loses the
 * lease tag. Loaded images are otherwise untagged (see load-image.ts).
 */
export const LEASE_REPOSITORY = "holdout-lease";

export interface ImageLease {
  imageId: string;
  /** The tag that holds it: `holdout-lease/<owner>:<nonce>`. */
  ref: string;
}

/** A repository path component: lowercase letters, digits and separators (a UUID is one). */
const OWNER = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/** The image is no longer on the engine (another lease holder released it meanwhile): load it again. */
export class ImageGone extends Error {}

export async function leaseImage(docker: Docker, imageId: string, owner: string): Promise<ImageLease> {
  if (!OWNER.test(owner)) throw new Error(`an image lease owner must be a plain name, got "${owner}"`);
  const repo = `${LEASE_REPOSITORY}/${owner}`;
  const tag = randomBytes(8).toString("hex");
  try {
    await docker.getImage(imageId).tag({ repo, tag });
  } catch (err) {
    if (isNotFound(err)) throw new ImageGone(`image ${imageId} is no longer on the engine`, { cause: err });
    throw new Error(`could not lease image ${imageId}`, { cause: err });
  }
  return { imageId, ref: `${repo}:${tag}` };
}

/** Removes the lease's tag (and with it the image, if that was its last tag). Already gone is fine. */
export async function releaseLease(docker: Docker, lease: ImageLease): Promise<void> {
  try {
    // noprune: the engine would otherwise also delete the image's untagged parents, which on a
    // shared engine are other images' build cache (a concurrent `docker build` then fails).
    await docker.getImage(lease.ref).remove({ noprune: true });
  } catch (err) {
    if (!isNotFound(err)) throw new Error(`could not release image lease ${lease.ref}`, { cause: err });
  }
}

/** A lease found on the engine, with the owner its tag names. */
export interface HeldLease extends ImageLease {
  owner: string;
}

/** Every lease the engine holds now, whoever took it. */
export async function listLeases(docker: Docker): Promise<HeldLease[]> {
  const prefix = `${LEASE_REPOSITORY}/`;
  const images = await docker.listImages({ filters: { reference: [`${prefix}*`] } });
  return images.flatMap((image) =>
    (image.RepoTags ?? [])
      .filter((ref) => ref.startsWith(prefix))
      .map((ref) => ({ imageId: image.Id, ref, owner: ref.slice(prefix.length, ref.lastIndexOf(":")) })),
  );
}

/**
 * Releases the given leases (what a crashed worker held, or an earlier attempt of a submission),
 * every one even if some fail.
 */
export async function releaseLeases(docker: Docker, leases: ImageLease[]): Promise<void> {
  const failures: unknown[] = [];
  for (const lease of leases) await releaseLease(docker, lease).catch((err: unknown) => failures.push(err));
  if (failures.length > 0) throw new AggregateError(failures, "could not release every stale image lease");
}
