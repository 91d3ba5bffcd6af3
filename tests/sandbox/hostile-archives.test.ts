import { execFile } from "node:child_process";
import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE_IMAGE, BASELINE_IMAGE } from "../support/env.ts";
import {
  compressedLayerBomb,
  deviceNode,
  escapingLayer,
  hugeConfig,
  imageArchive,
  manyLayers,
  ociLayoutArchive,
  paxSparseRename,
  symlinkThenWrite,
  tinyModelParts,
  withEnv,
  withRunConfig,
  type CraftedArchive,
  type ImageParts,
} from "../support/crafted-images.ts";
import { CONSTANT_PREDICTIONS, imageId, leaseTagsOf } from "../support/images.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

const run = promisify(execFile);

/** The worker's cap on what an image unpacks to, small so that a bomb costs megabytes, not GiBs. */
const UNPACKED_CAP_MB = 32;

/** Files under `dir`, relative, as a sorted list (the scratch a worker keeps between runs included). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

async function imageExists(id: string): Promise<boolean> {
  return run("docker", ["image", "inspect", id]).then(
    () => true,
    () => false,
  );
}

// Crafted image archives of every form the engine would read differently from our loader, uploaded
// as a team would (the multipart endpoint) and loaded by a real worker: each ends `image_rejected`
// with a reason naming the form, charged to the team (the archive is the team's doing), with nothing
// loaded, no tag of ours moved, and no container or scratch file left.
describe("hostile image archives through the API and a worker", () => {
  let stack: Stack;
  let parts: ImageParts;
  let ours: { base: string; runtime: string };

  beforeAll(async () => {
    stack = await startStack({
      worker: true,
      workerEnv: {
        HOLDOUT_IMAGE_MAX_MB: "16",
        HOLDOUT_IMAGE_MAX_UNPACKED_MB: String(UNPACKED_CAP_MB),
        HOLDOUT_RUN_TIMEOUT_SECONDS: "30",
      },
    });
    // A model that would score if it were loaded (a constant: 0.5 on every task).
    parts = await tinyModelParts(CONSTANT_PREDICTIONS);
    // The keeper (base) and runtime images this stack's worker uses, by the IDs their tags name now.
    ours = { base: await imageId(BASE_IMAGE), runtime: await imageId(BASELINE_IMAGE) };
  });

  const crafted: string[] = [];
  afterAll(async () => {
    await stack?.close();
    await Promise.all(crafted.map((file) => rm(file, { force: true })));
  });

  async function submit(archive: CraftedArchive) {
    crafted.push(archive.file);
    // A team per submission: each one's charge is seen alone.
    const { token } = await stack.createTeam();
    const { status, body } = await uploadImage(stack.url, token, archive.file, { model: "crafted" });
    expect(status).toBe(202);
    const final = await waitForFinal(stack.url, token, body.id, 120_000);
    return { id: body.id, ...final } as typeof final & { id: string; refunded: boolean };
  }

  async function expectRefused(archive: CraftedArchive, reason: RegExp) {
    const scratchBefore = await filesUnder(stack.workDir);
    const dataBefore = await filesUnder(stack.dataDir);
    const r = await submit(archive);
    expect(r.state).toBe("failed");
    expect(r.failure).toMatchObject({ category: "image_rejected" });
    expect(r.failure?.message).toMatch(reason);
    expect(r.refunded, "an archive the team crafted is charged to its quota").toBe(false);

    for (const id of archive.imageIds) expect(await imageExists(id), `${id} on the engine`).toBe(false);
    expect(await leaseTagsOf(r.id), "image leases left").toEqual([]);
    expect(await imageId(BASE_IMAGE), `${BASE_IMAGE} moved`).toBe(ours.base);
    expect(await imageId(BASELINE_IMAGE), `${BASELINE_IMAGE} moved`).toBe(ours.runtime);
    const { stdout } = await run("docker", ["ps", "-aq", "--filter", `label=holdout.submission=${r.id}`]);
    expect(stdout.trim(), "containers left").toBe("");
    expect(await filesUnder(stack.workDir), "scratch files left").toEqual(scratchBefore);
    // The data directory gains the upload itself (uploads/<id>.tar) and nothing else.
    expect(await filesUnder(stack.dataDir), "staging files left").toEqual(
      [...dataBefore, path.join("uploads", `${r.id}.tar`)].sort(),
    );
    return r;
  }

  it("control: the crafted model, with nothing hostile in it, loads and scores", async () => {
    const archive = await imageArchive(parts);
    const r = await submit(archive);
    expect(r.failure).toBeNull();
    expect(r.state).toBe("scored");
  });

  // Docker 25 and later write an OCI layout beside manifest.json in every `docker save`, so one that
  // describes the same image is accepted, but only manifest.json is loaded: the layout (and the tag
  // its annotations name, which the containerd image store would apply) never reaches the engine.
  it("a Docker 25 style OCI layout naming the team's own image: loaded from manifest.json alone, scored", async () => {
    const archive = await ociLayoutArchive(parts, { tag: "someteam/model:v1" });
    const r = await submit(archive);
    expect(r.state).toBe("scored");
    expect(await imageExists("someteam/model:v1"), "the layout's tag applied").toBe(false);
    expect(await leaseTagsOf(r.id), "image leases left").toEqual([]);
    for (const id of archive.imageIds) expect(await imageExists(id), `${id} left on the engine`).toBe(false);
  });

  it("an OCI layout whose annotations name our base image", async () => {
    const archive = await ociLayoutArchive(parts, { tag: BASE_IMAGE });
    await expectRefused(archive, /one of this server's own images.*\[reserved_name\]/);
  });

  it("an OCI layout describing another image than manifest.json", async () => {
    const other = withRunConfig(parts, { Entrypoint: ["/bin/sh", "-c", "exit 3"] });
    const archive = await ociLayoutArchive(parts, { tag: BASE_IMAGE, describes: other });
    await expectRefused(archive, /describes another image config.*\[oci_layout\]/);
  });

  it("a gzip-compressed layer that expands past the unpacked cap", async () => {
    // 64 MiB of zeros: about 64 KiB in the archive, twice the cap once decompressed.
    const archive = await compressedLayerBomb(parts, 2 * UNPACKED_CAP_MB * 1024 * 1024);
    await expectRefused(archive, /unpacks to more than|expands more than/);
  });

  it("a member renamed by PAX GNU.sparse.name onto manifest.json (naming our base image)", async () => {
    await expectRefused(await paxSparseRename(parts, "manifest.json"), /GNU\.sparse.*\[gnu_sparse\]/);
  });

  it("a member renamed by PAX GNU.sparse.name onto the image config", async () => {
    await expectRefused(await paxSparseRename(parts, "config"), /GNU\.sparse.*\[gnu_sparse\]/);
  });

  it("a layer that creates a symlink and writes through it", async () => {
    await expectRefused(await symlinkThenWrite(parts), /through the symlink.*\[write_through_symlink\]/);
  });

  it("an image config of 8 MiB", async () => {
    await expectRefused(await hugeConfig(parts, 8 * 1024 * 1024), /an image config may be at most/);
  });

  it("an image of 101 layers (the limit is 100)", async () => {
    await expectRefused(await manyLayers(parts, 101), /100 layers.*\[too_many_layers\]/);
  });

  it.each([
    ["LD_PRELOAD", "LD_PRELOAD=/tmp/hook.so"],
    ["LD_LIBRARY_PATH", "LD_LIBRARY_PATH=/tmp"],
    ["an NVIDIA_* hook setting", "NVIDIA_VISIBLE_DEVICES=all"],
  ])("an image config Env with %s", async (_what, entry) => {
    const name = entry.slice(0, entry.indexOf("="));
    await expectRefused(await withEnv(parts, [entry]), new RegExp(`sets ${name} .*\\[env_steering\\]`));
  });

  it("a layer holding a device node", async () => {
    await expectRefused(await deviceNode(parts), /is a char-device.*\[entry_type\]/);
  });

  it.each([
    ["an absolute path", "absolute" as const, /is absolute.*\[unsafe_path\]/],
    ["a path escaping through ..", "dotdot" as const, /has a "\.\." component.*\[unsafe_path\]/],
    ["a hard link out of the layer", "hardlink" as const, /points outside.*\[link_escape\]/],
  ])("a layer with %s", async (_what, form, reason) => {
    await expectRefused(await escapingLayer(parts, form), reason);
  });
});
