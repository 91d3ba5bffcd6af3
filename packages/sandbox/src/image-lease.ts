import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type Docker from "dockerode";
import { isNotFound, statusCodeOf } from "./docker.ts";

/**
 * Leases on loaded images, kept by the engine itself so that workers sharing an engine agree on them.
 * A lease is a tag of its own, `holdout-lease/<owner>:<until>-<nonce>` (the owner is a submission id;
 * `until` the epoch milliseconds after which the lease is certainly over, as a sandbox object's
 * deadline label). The engine never deletes an image that has another tag or a container, so an
 * image goes exactly with its last lease (see releaseLease), and an image tagged by anyone else (our
 * base or runtime image, an organizer's) only loses the lease tag. Loaded images are otherwise
 * untagged (see load-image.ts).
 */
export const LEASE_REPOSITORY = "holdout-lease";

export interface ImageLease {
  imageId: string;
  /** The tag that holds it: `holdout-lease/<owner>:<until>-<nonce>`. */
  ref: string;
}

/** A repository path component: lowercase letters, digits and separators (a UUID is one). */
const OWNER = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const TAG = /^(\d{1,15})-[0-9a-f]+$/;

/** The image is no longer on the engine (another lease holder released it meanwhile): load it again. */
export class ImageGone extends Error {}

export async function leaseImage(
  docker: Docker,
  imageId: string,
  owner: string,
  until: number,
): Promise<ImageLease> {
  if (!OWNER.test(owner)) throw new Error(`an image lease owner must be a plain name, got "${owner}"`);
  const repo = `${LEASE_REPOSITORY}/${owner}`;
  const tag = `${Math.ceil(until)}-${randomBytes(8).toString("hex")}`;
  try {
    await docker.getImage(imageId).tag({ repo, tag });
  } catch (err) {
    if (isNotFound(err)) throw new ImageGone(`image ${imageId} is no longer on the engine`, { cause: err });
    throw new Error(`could not lease image ${imageId}`, { cause: err });
  }
  return { imageId, ref: `${repo}:${tag}` };
}

/**
 * What a release came to: the image is gone (with this release, or a racing one); others still hold
 * or name it; or a container still uses the image and this was its last name, so the lease stays
 * for a later release (the engine refuses to leave an image in use without a name, and so do we).
 */
export type Released = "image removed" | "lease removed" | "image in use";

/**
 * Removes the lease's tag, then the image too if nothing else holds or names it. Already gone is
 * fine. Two releases of the last two leases may race: each removes its own tag, then looks at what
 * is left, so whichever untags last sees no tag and removes the image (the engine's own removal on
 * the last untag can be skipped when another release or a load races it). Removals are never forced,
 * so the engine refuses to delete an image that a container uses or that gained a tag meanwhile.
 */
export async function releaseLease(docker: Docker, lease: ImageLease): Promise<Released> {
  try {
    // noprune: the engine would otherwise also delete the image's untagged parents, which on a
    // shared engine are other images' build cache (a concurrent `docker build` then fails).
    await docker.getImage(lease.ref).remove({ noprune: true });
  } catch (err) {
    // 409: its last name, and a container uses the image.
    if (statusCodeOf(err) === 409) return "image in use";
    // Two removals racing on one image: the engine may answer the slower one with a 500
    // ("unrecognized image ID") after the faster deleted the image. Only our tag matters here.
    if (!isNotFound(err) && (await inspectSettled(docker, lease.ref)) !== null)
      throw new Error(`could not release image lease ${lease.ref}`, { cause: err });
  }
  const image = await inspectSettled(docker, lease.imageId);
  if (image === null) return "image removed";
  if ((image.RepoTags ?? []).length > 0 || (image.RepoDigests ?? []).length > 0) return "lease removed";
  try {
    await docker.getImage(lease.imageId).remove({ noprune: true });
  } catch (err) {
    // A tag or a container arrived after the look: its holder releases the image in turn.
    if (statusCodeOf(err) === 409) return "lease removed";
    // The engine was already deleting it (the racing release's untag): a 404, or that 500 again.
    if (isNotFound(err) || (await inspectSettled(docker, lease.imageId)) === null) return "image removed";
    throw new Error(`could not remove image ${lease.imageId} after its last lease`, { cause: err });
  }
  return "image removed";
}

const DELETING = /layer does not exist/i;

/**
 * The image as the engine has it once no deletion is under way; null once it is gone. While the
 * engine deletes an image (a racing release's untag) it answers inspections with a 500 "layer does
 * not exist"; that lasts milliseconds, so the look is repeated, for at most about two seconds.
 */
async function inspectSettled(docker: Docker, ref: string): Promise<Docker.ImageInspectInfo | null> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await docker.getImage(ref).inspect();
    } catch (err) {
      if (isNotFound(err)) return null;
      const deleting = statusCodeOf(err) === 500 && DELETING.test(String((err as Error).message));
      if (!deleting || attempt >= 40) {
        throw new Error(`could not inspect image ${ref} after releasing a lease`, { cause: err });
      }
      await sleep(50);
    }
  }
}

/** A lease found on the engine, with the owner and end its tag names. */
export interface HeldLease extends ImageLease {
  owner: string;
  /** Epoch ms after which the lease is certainly over; NaN for a tag that names none (taken as over). */
  until: number;
}

/** Every lease the engine holds now, whoever took it. */
export async function listLeases(docker: Docker): Promise<HeldLease[]> {
  const prefix = `${LEASE_REPOSITORY}/`;
  const images = await docker.listImages({ filters: { reference: [`${prefix}*`] } });
  return images.flatMap((image) =>
    (image.RepoTags ?? [])
      .filter((ref) => ref.startsWith(prefix))
      .map((ref) => {
        const colon = ref.lastIndexOf(":");
        const until = TAG.exec(ref.slice(colon + 1))?.[1];
        return {
          imageId: image.Id,
          ref,
          owner: ref.slice(prefix.length, colon),
          until: until === undefined ? Number.NaN : Number(until),
        };
      }),
  );
}
