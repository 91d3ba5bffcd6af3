import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDocker, ImageGone, Sandbox } from "../src/index.ts";
import { buildTestImage } from "./build-image.ts";

// Integration tests against the real Docker engine: image leases (a run's hold on its image),
// removal, and whether an image is there.

const docker = connectDocker();
const sandbox = new Sandbox(docker, { keeperImage: "holdout/base:bookworm" });
const run = randomUUID().slice(0, 8);
const victimRepo = `holdout-test/lease-victim-${run}`;
const victimTag = `${victimRepo}:latest`;
let dir: string;
let victimId: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "holdout-sandbox-leases-"));
  victimId = await buildImage(`FROM holdout/base:bookworm\nLABEL holdout.test.victim=${run}\n`, victimTag);
});

afterAll(async () => {
  if (victimId) await sandbox.removeImage(victimId);
  await rm(dir, { recursive: true, force: true });
});

function buildImage(dockerfile: string, tag?: string): Promise<string> {
  return buildTestImage(docker, dockerfile, tag ? { tag } : {});
}

describe("image leases", () => {
  const until = () => Date.now() + 3600_000;

  it("keep an image until its last lease is released, whoever holds the others", async () => {
    const id = await buildImage(
      `FROM holdout/base:bookworm\nRUN echo ${run} > /lease-test\nENTRYPOINT ["true"]\n`,
    );
    const path = join(dir, "lease.tar");
    await pipeline(await docker.getImage(id).get(), createWriteStream(path));
    await docker.getImage(id).remove({ force: true });
    const loaded = await sandbox.loadImage(path);
    const owners: string[] = [randomUUID(), randomUUID()];
    const first = await sandbox.leaseImage(loaded.imageId, owners[0]!, until());
    const second = await sandbox.leaseImage(loaded.imageId, owners[1]!, until());
    const held = await sandbox.listLeases();
    expect(
      held
        .filter((l) => owners.includes(l.owner))
        .map((l) => l.ref)
        .sort(),
    ).toEqual([first.ref, second.ref].sort());
    expect(held.find((l) => l.ref === first.ref)?.until).toBeGreaterThan(Date.now());
    expect(await sandbox.releaseLease(first)).toBe("lease removed");
    // The other holder's lease keeps it, even though the image has no name of its own.
    expect((await docker.getImage(loaded.imageId).inspect()).RepoTags).toEqual([second.ref]);
    expect(await sandbox.releaseLease(first)).toBe("lease removed"); // twice is harmless
    expect(await sandbox.releaseLease(second)).toBe("image removed");
    await expect(docker.getImage(loaded.imageId).inspect()).rejects.toMatchObject({ statusCode: 404 });
    await expect(sandbox.leaseImage(loaded.imageId, owners[0]!, until())).rejects.toBeInstanceOf(ImageGone);
  });

  it("remove only the leased image on release, never its untagged parents (other builds' cache)", async () => {
    const id = await buildImage(
      `FROM holdout/base:bookworm\nRUN echo ${run} > /prune-test\nENTRYPOINT ["true"]\n`,
    );
    const parent = (await docker.getImage(id).inspect()).Parent;
    expect(parent).not.toBe("");
    try {
      await sandbox.releaseLease(await sandbox.leaseImage(id, randomUUID(), until()));
      await expect(docker.getImage(id).inspect()).rejects.toMatchObject({ statusCode: 404 });
      expect((await docker.getImage(parent).inspect()).Id).toBe(parent);
    } finally {
      await sandbox.removeImage(id);
      await sandbox.removeImage(parent);
    }
  });

  it("never take away an image's own tag: releasing only removes the lease", async () => {
    const lease = await sandbox.leaseImage(victimId, randomUUID(), until());
    expect(await sandbox.releaseLease(lease)).toBe("lease removed");
    expect((await docker.getImage(victimTag).inspect()).Id).toBe(victimId);
    expect((await docker.getImage(victimId).inspect()).RepoTags).toEqual([victimTag]);
  });

  it("release the leases asked for, and only those", async () => {
    const [ended, running] = [randomUUID(), randomUUID()];
    const a = await sandbox.leaseImage(victimId, ended, until());
    const b = await sandbox.leaseImage(victimId, running, until());
    try {
      for (const lease of (await sandbox.listLeases()).filter((l) => l.owner === ended))
        await sandbox.releaseLease(lease);
      const tags = (await docker.getImage(victimId).inspect()).RepoTags;
      expect(tags).not.toContain(a.ref);
      expect(tags).toContain(b.ref);
    } finally {
      await sandbox.releaseLease(b);
    }
  });
});

describe("image leases released at the same time", () => {
  // A few-KB image: each round loads it afresh.
  let tiny: string;
  beforeAll(async () => {
    const id = await buildTestImage(docker, 'FROM scratch\nCOPY marker /marker\nENTRYPOINT ["/marker"]\n', {
      files: { marker: `race ${run}` },
    });
    tiny = join(dir, "tiny.tar");
    await pipeline(await docker.getImage(id).get(), createWriteStream(tiny));
    // With its build step (an untagged parent of this build's own, which removeImage would keep).
    await docker.getImage(id).remove();
  });
  const hour = () => Date.now() + 3600_000;

  it("never leave the image behind: whichever release comes last removes it", async () => {
    // The engine answers the slower of two racing removals with a 500 (the faster deleted the image
    // under it) and may skip the image's removal on an untag; seen in about one race in four.
    for (let round = 0; round < 12; round++) {
      const { imageId } = await sandbox.loadImage(tiny);
      const leases = [
        await sandbox.leaseImage(imageId, randomUUID(), hour()),
        await sandbox.leaseImage(imageId, randomUUID(), hour()),
      ];
      const released = await Promise.all(leases.map((l) => sandbox.releaseLease(l)));
      expect(released, `round ${round}`).toContain("image removed");
      await expect(docker.getImage(imageId).inspect(), `round ${round}`).rejects.toMatchObject({
        statusCode: 404,
      });
    }
  });

  it("never remove an image a container still uses; the release after the container's end does", async () => {
    const { imageId } = await sandbox.loadImage(tiny);
    const mine = await sandbox.leaseImage(imageId, randomUUID(), hour());
    const theirs = await sandbox.leaseImage(imageId, randomUUID(), hour());
    // Another holder's run (a container is all that runs need of an image; it need not start).
    const container = await docker.createContainer({ Image: imageId, Labels: { "holdout.test": run } });
    try {
      expect(await sandbox.releaseLease(theirs)).toBe("lease removed");
      // The last lease while a container uses the image: the engine keeps both, so the lease's
      // owner (or a sweep) can release it once the container is gone.
      expect(await sandbox.releaseLease(mine)).toBe("image in use");
      expect((await docker.getImage(imageId).inspect()).RepoTags).toEqual([mine.ref]);
    } finally {
      await container.remove({ force: true });
    }
    expect(await sandbox.releaseLease(mine)).toBe("image removed");
    await expect(docker.getImage(imageId).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe("removeImage", () => {
  it("removes an image and treats an absent one as removed", async () => {
    const id = await buildImage(`FROM holdout/base:bookworm\nLABEL holdout.test.remove=${run}\n`);
    await sandbox.removeImage(id);
    await expect(docker.getImage(id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    await expect(sandbox.removeImage(id)).resolves.toBeUndefined();
  });
});

describe("hasImage", () => {
  it("tells a local image from a missing one, and an engine that does not answer from both", async () => {
    expect(await sandbox.hasImage("holdout/base:bookworm")).toBe(true);
    expect(await sandbox.hasImage(`holdout-test/missing-${run}:latest`)).toBe(false);
    const nowhere = new Sandbox(connectDocker({ socketPath: join(dir, "no-engine.sock") }), {
      keeperImage: "holdout/base:bookworm",
    });
    await expect(nowhere.hasImage("holdout/base:bookworm")).rejects.toThrow(
      /could not ask the Docker engine about the image holdout\/base:bookworm/,
    );
  });
});
