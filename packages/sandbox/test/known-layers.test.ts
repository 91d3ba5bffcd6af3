import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDocker, Sandbox, SandboxRejection } from "../src/index.ts";
import { openArchive, readImageArchive } from "../src/image-tarball.ts";
import { chainIds, planKnownLayers, skippable } from "../src/known-layers.ts";
import {
  legacyMembers,
  sha256,
  tarOf,
  type Image,
  type Member,
  type NamedMember,
} from "./crafted-archive.ts";

// Layers the engine holds (those of our own images) are left out of what a load sends. Tested on the
// real engine with archives whose copies of those layers are junk: the image loads, and runs as its
// config says, only if the engine used its own layers and never read ours.

const docker = connectDocker();
const run = randomUUID().slice(0, 8);
const exec = promisify(execFile);
const KEEPER = "holdout/base:bookworm";
/** Built by setup on the keeper's base: three layers, so chain IDs past the first are exercised. */
const RUNTIME = "holdout/example-baseline:latest";
let dir: string;
let helloLayer: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "holdout-known-layers-"));
  helloLayer = await tarOf([{ name: "hello", body: `#!/bin/sh\necho ${run}\n` }]);
});

afterAll(async () => {
  const images = await docker.listImages({ all: true, filters: { label: [`holdout.test=${run}`] } });
  for (const i of images) await docker.getImage(i.Id).remove({ force: true, noprune: true });
  await rm(dir, { recursive: true, force: true });
});

async function diffIdsOf(ref: string): Promise<string[]> {
  return (await docker.getImage(ref).inspect()).RootFS.Layers ?? [];
}

/**
 * An image on `base` with one layer of its own (/hello), whose archive carries junk in place of each
 * of the base's layers: the config still names the base's real diff IDs.
 */
async function onBase(base: string): Promise<Image> {
  const baseDiffIds = await diffIdsOf(base);
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Entrypoint: ["/hello"], Labels: { "holdout.test": run } },
      rootfs: { type: "layers", diff_ids: [...baseDiffIds, `sha256:${sha256(helloLayer)}`] },
    }),
  );
  // Each junk copy differs (its own member name), so each sits in a layer directory of its own.
  const junk = await Promise.all(
    baseDiffIds.map((_, i) => tarOf([{ name: `evil${i}`, body: "not the engine's layer\n" }])),
  );
  return {
    config,
    configHex: sha256(config),
    layers: [...junk, helloLayer].map((blob) => ({ blob, hex: sha256(blob) })),
  };
}

async function archive(members: Member[]): Promise<string> {
  const path = join(dir, `${randomUUID()}.tar`);
  await writeFile(path, await tarOf(members));
  return path;
}

async function runs(imageId: string, script: string): Promise<string> {
  const { stdout } = await exec("docker", [
    "run",
    "--rm",
    "--network",
    "none",
    "--entrypoint",
    "/bin/sh",
    imageId,
    "-c",
    script,
  ]);
  return stdout.trim();
}

describe("known layers are not sent again", () => {
  it.each([
    { base: KEEPER, shared: () => [] as string[] },
    { base: RUNTIME, shared: async () => [(await docker.getImage(RUNTIME).inspect()).Id] },
  ])("an image on $base loads without $base's layers, which the engine holds", async ({ base, shared }) => {
    const sharedIds = await shared();
    const sandbox = new Sandbox(docker, {
      keeperImage: KEEPER,
      ...(sharedIds.length > 0 ? { sharedLayerImages: sharedIds } : {}),
    });
    const img = await onBase(base);
    const loaded = await sandbox.loadImage(await archive(legacyMembers(img)));
    expect(loaded.imageId).toBe(`sha256:${img.configHex}`);
    expect(loaded.layersNotSent).toBe((await diffIdsOf(base)).length);
    // The base's own files, none of the archive's junk copies, and the image's own layer on top.
    expect(await runs(loaded.imageId, "test -x /bin/sh && ! ls /evil* 2>/dev/null && sh /hello")).toBe(run);
    await docker.getImage(loaded.imageId).remove({ force: true, noprune: true });
  });

  it("sends every layer when no image is shared, and the engine still uses its own", async () => {
    // What makes leaving layers out safe: the engine reads no copy of a layer it holds in any case
    // (it looks each one up by chain ID first). Leaving them out only saves their transfer.
    const sandbox = new Sandbox(docker, { keeperImage: KEEPER, sharedLayerImages: [] });
    const img = await onBase(KEEPER);
    const loaded = await sandbox.loadImage(await archive(legacyMembers(img)));
    expect(loaded.layersNotSent).toBe(0);
    expect(await runs(loaded.imageId, "! ls /evil* 2>/dev/null && sh /hello")).toBe(run);
    await docker.getImage(loaded.imageId).remove({ force: true, noprune: true });
  });

  it("plans only what the headers show plainly, and only layers every manifest position of which is known", async () => {
    const img = await onBase(KEEPER);
    const path = await archive(legacyMembers(img));
    const known = new Set(chainIds(await diffIdsOf(KEEPER)));
    const limits = { maxEntries: 100, maxConfigBytes: 1 << 20 };
    const plan = await planKnownLayers(path, limits, known);
    expect(plan?.known).toEqual([true, false]);
    expect([...(plan?.skip ?? [])]).toEqual([`${img.layers[0]!.hex}/layer.tar`]);
    expect(await planKnownLayers(path, limits, new Set())).toBeUndefined();
    // A PAX record in front of a member: not read here, so the whole archive is sent.
    const pax = await archive([{ name: "note", body: "x", pax: { comment: "hi" } }, ...legacyMembers(img)]);
    expect(await planKnownLayers(pax, limits, known)).toBeUndefined();
    // A layer file that also serves an unknown position (through a link) is sent.
    const links = new Map([["b/layer.tar", "a/layer.tar"]]);
    expect([...skippable(["a/layer.tar", "b/layer.tar"], [true, false], links)]).toEqual([]);
    expect([...skippable(["a/layer.tar", "b/layer.tar"], [true, true], links)]).toEqual(["a/layer.tar"]);
  });

  it("refuses an archive that the checked pass reads differently from the plan", async () => {
    const img = await onBase(KEEPER);
    const path = await archive(legacyMembers(img));
    const plan = await planKnownLayers(
      path,
      { maxEntries: 100, maxConfigBytes: 1 << 20 },
      new Set(chainIds(await diffIdsOf(KEEPER))),
    );
    expect(plan).toBeDefined();
    const opened = await openArchive(path, {});
    const differs = { ...plan!, manifestText: `${plan!.manifestText} ` };
    const err: unknown = await readImageArchive(path, opened, undefined, differs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxRejection);
    expect((err as SandboxRejection).message).toMatch(/reads differently/);
    // As planned, the same archive reads the same and leaves the known layer out.
    expect((await readImageArchive(path, opened, undefined, plan)).layersNotSent).toBe(1);
  });
});

describe("chain IDs", () => {
  it("follow the classic store's rule: the digest of the parent's chain ID and the layer's diff ID", () => {
    const a = `sha256:${"a".repeat(64)}`;
    const b = `sha256:${"b".repeat(64)}`;
    expect(chainIds([a, b])).toEqual([a, `sha256:${sha256(`${a} ${b}`)}`]);
  });
});

describe("the header-only plan and the checked pass", () => {
  /**
   * A legacy archive of `layers` distinct layers, plus, with `linked`, one more position that repeats
   * the first layer's content through a symlink (as docker save links a layer two positions share).
   */
  async function layered(layers: number, linked: boolean) {
    const tars = await Promise.all(
      Array.from({ length: layers }, (_, i) => tarOf([{ name: `f${i}`, body: `${run} ${i}` }])),
    );
    const diffIds = [...tars, ...(linked ? [tars[0]!] : [])].map((t) => `sha256:${sha256(t)}`);
    const config = Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: { Entrypoint: ["/f0"] },
        rootfs: { type: "layers", diff_ids: diffIds },
      }),
    );
    const img: Image = {
      config,
      configHex: sha256(config),
      layers: tars.map((blob) => ({ blob, hex: sha256(blob) })),
    };
    const members: NamedMember[] = legacyMembers(img);
    const manifest = members.pop()!;
    const linkDir = sha256(`link ${run}`);
    const layerNames = img.layers.map((l) => `${l.hex}/layer.tar`);
    if (linked) {
      members.push(
        { name: `${linkDir}/`, type: "directory" },
        { name: `${linkDir}/layer.tar`, type: "symlink", linkname: `../${img.layers[0]!.hex}/layer.tar` },
      );
      layerNames.push(`${linkDir}/layer.tar`);
    }
    const manifestBody = JSON.stringify([
      { Config: `${img.configHex}.json`, RepoTags: [], Layers: layerNames },
    ]);
    return { img, diffIds, members, manifest: { ...manifest, body: manifestBody } };
  }

  it("agree on any member order: the known layers are left out, and the rest read as before", async () => {
    const limits = { maxEntries: 100, maxConfigBytes: 1 << 20 };
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        fc.nat(),
        fc.integer(),
        async (layers, linked, knownSeed, orderSeed) => {
          const { img, diffIds, members, manifest } = await layered(layers, linked);
          const known = knownSeed % (layers + 1); // a prefix of the distinct layers, maybe none
          // Any order of the members, the manifest anywhere (docker save writes it last).
          const all = [...members, manifest];
          const order = fc.sample(
            fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }),
            {
              numRuns: 1,
              seed: orderSeed,
            },
          )[0]!;
          const path = await archive(order);
          const plan = await planKnownLayers(path, limits, new Set(chainIds(diffIds).slice(0, known)));
          // The linked position repeats layer 0 on another parent: its chain is never known, so
          // layer 0's file is needed for it, and sent.
          const expected = Math.max(0, known - (linked && known > 0 ? 1 : 0));
          expect(plan?.skip.size ?? 0).toBe(expected);
          const opened = await openArchive(path, {});
          const read = await readImageArchive(path, opened, undefined, plan);
          expect(read.imageId).toBe(`sha256:${img.configHex}`);
          expect(read.layersNotSent).toBe(expected);
          const whole = await readImageArchive(path, opened);
          expect(whole.manifest).toEqual(read.manifest);
          await rm(path);
        },
      ),
      { numRuns: 60 },
    );
  });
});
