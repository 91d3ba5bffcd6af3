import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer, connect } from "node:net";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip, gzipSync } from "node:zlib";
import { extract as tarExtract, pack as tarPack } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDocker, inspectImageTarball, Sandbox, SandboxRejection } from "../src/index.ts";
import { buildTestImage } from "./build-image.ts";
import { tarOf } from "./crafted-archive.ts";

// Integration tests against the real Docker engine: archive inspection, loading, removal.

const docker = connectDocker();
const sandbox = new Sandbox(docker, { keeperImage: "holdout/base:bookworm" });
const run = randomUUID().slice(0, 8);
const victimRepo = `holdout-test/victim-${run}`;
const victimTag = `${victimRepo}:latest`;
let dir: string;
let victimId: string;
let modelId: string;
let plainTar: string;
let gzippedTar: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "holdout-sandbox-image-"));
  victimId = await buildImage(`FROM holdout/base:bookworm\nLABEL holdout.test.victim=${run}\n`, victimTag);
  modelId = await buildImage(
    `FROM holdout/base:bookworm\nRUN echo ${run} > /model-id\nENTRYPOINT ["/bin/cat", "/model-id"]\n`,
    `holdout-test/model-${run}:latest`,
  );
  // Save the model under the victim's tag, as a malicious team could, then give the tag back.
  await docker.getImage(modelId).tag({ repo: victimRepo, tag: "latest" });
  plainTar = join(dir, "model.tar");
  await pipeline(await docker.getImage(victimTag).get(), createWriteStream(plainTar));
  await docker.getImage(victimId).tag({ repo: victimRepo, tag: "latest" });
  gzippedTar = join(dir, "model.tar.gz");
  await pipeline(createReadStream(plainTar), createGzip(), createWriteStream(gzippedTar));
  // The load below must do real work, not find the image already there.
  await docker.getImage(modelId).remove({ force: true });
});

afterAll(async () => {
  for (const id of [modelId, victimId]) {
    if (id) await sandbox.removeImage(id);
  }
  await rm(dir, { recursive: true, force: true });
});

describe("inspectImageTarball", () => {
  it("reads a plain docker save archive", async () => {
    const info = await inspectImageTarball(plainTar);
    expect(info).toMatchObject({ imageId: modelId, repoTags: [victimTag], compressed: false });
    expect(info.layers).toBeGreaterThanOrEqual(2);
    expect(info.size).toBeGreaterThan(1_000_000);
  });

  it("reads a gzipped archive, telling it by its magic bytes", async () => {
    const info = await inspectImageTarball(gzippedTar);
    expect(info).toMatchObject({ imageId: modelId, compressed: true });
  });

  it.each([
    [
      "a file that is not a tar",
      Buffer.from("this is not an archive\n".repeat(100)),
      /not a tar archive .*\[not_tar\]$/,
    ],
    [
      "gzip of something that is not a tar",
      gzipSync(Buffer.alloc(4096, 7)),
      /not a tar archive .*\[not_tar\]$/,
    ],
    [
      "a truncated gzip",
      gzipSync(Buffer.alloc(100_000, 0)).subarray(0, 200),
      /not a valid gzip-compressed tar archive \[not_gzip\]$/,
    ],
    ["an empty file", Buffer.alloc(0), /manifest\.json is missing/],
  ])("rejects %s", async (_what, content, reason) => {
    const path = join(dir, `${randomUUID()}.bin`);
    await writeFile(path, content);
    await expect(inspectImageTarball(path)).rejects.toThrow(reason);
    await expect(inspectImageTarball(path)).rejects.toBeInstanceOf(SandboxRejection);
  });

  const config = Buffer.from(
    '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}',
  );
  const digest = createHash("sha256").update(config).digest("hex");
  it.each([
    ["no manifest", { "x.txt": "hello" }, /manifest\.json is missing \(use `docker save`\) \[not_image\]$/],
    [
      "a code bundle's files",
      { "requirements.txt": "numpy\n", "src/predict.py": "print(1)\n" },
      /manifest\.json is missing, and it holds source code \("(requirements\.txt|src\/predict\.py)"\); a code bundle is sent in the `bundle` field/,
    ],
    [
      "two images",
      { "manifest.json": JSON.stringify([entry(digest), entry(digest)]), [`${digest}.json`]: config },
      /exactly one image; it holds 2/,
    ],
    ["a missing config", { "manifest.json": JSON.stringify([entry(digest)]) }, /is missing from the archive/],
    [
      "a config that does not match its digest",
      { "manifest.json": JSON.stringify([entry(digest)]), [`${digest}.json`]: "{}" },
      /does not match its digest/,
    ],
    [
      "a missing layer",
      {
        "manifest.json": JSON.stringify([{ ...entry(digest), Layers: ["abc/layer.tar"] }]),
        [`${digest}.json`]: config,
      },
      /layer "abc\/layer.tar" .* missing/,
    ],
    ["a manifest that is not JSON", { "manifest.json": "[{" }, /not valid JSON/],
  ])("rejects an archive with %s", async (_what, files, reason) => {
    const path = await writeTar(files);
    const err: unknown = await inspectImageTarball(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxRejection);
    expect((err as SandboxRejection).reason).toMatch(reason);
  });
});

describe("loadImage", () => {
  it("loads a gzipped archive by ID, untagged, without moving an existing tag", async () => {
    const loaded = await sandbox.loadImage(gzippedTar);
    expect(loaded.imageId).toBe(modelId);
    const image = await docker.getImage(modelId).inspect();
    expect(loaded.size).toBe(image.Size);
    expect(loaded.preexisting).toBe(false);
    expect(image.RepoTags).toEqual([]);
    // The archive asked for the victim's tag; the victim keeps it.
    expect((await docker.getImage(victimTag).inspect()).Id).toBe(victimId);
  });

  it("reports an image the engine already held as preexisting, so the run does not remove it", async () => {
    // The model is loaded by the test above; loading it again must not claim it.
    const again = await sandbox.loadImage(plainTar);
    expect(again).toMatchObject({ imageId: modelId, preexisting: true });
  });

  it("turns an engine failure reported inside a 200 response into a summarised rejection", async () => {
    // Valid to our checks (manifest, config digest, a layer that is a tar), but the layer's diff_id
    // is wrong: only the engine can tell. The team reads our sentence, not the engine's text.
    const layer = await tarBytes({ "hello.txt": "hello\n" });
    const diffId = createHash("sha256").update("something else").digest("hex");
    const cfg = Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: { Entrypoint: ["true"] },
        rootfs: { type: "layers", diff_ids: [`sha256:${diffId}`] },
      }),
    );
    const cfgDigest = createHash("sha256").update(cfg).digest("hex");
    const layerName = `${"a".repeat(64)}/layer.tar`;
    const path = await writeTar({
      "manifest.json": JSON.stringify([{ ...entry(cfgDigest), Layers: [layerName] }]),
      [`${cfgDigest}.json`]: cfg,
      [layerName]: layer,
    });
    const err: unknown = await sandbox.loadImage(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxRejection);
    expect((err as SandboxRejection).reason).toBe(
      "the Docker engine could not load the image: a layer does not match the digest its image config gives it (rebuild and save the image again) [layer_digest]",
    );
    await expect(docker.getImage(`sha256:${cfgDigest}`).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it("rejects an image that declares a VOLUME, and the engine keeps nothing of it", async () => {
    // A layer of its own, so that anything the engine kept of the streamed layers would show.
    const label = `holdout.test.volume=${run}`;
    const id = await buildImage(
      `FROM holdout/base:bookworm\nRUN echo ${run} > /volume-test\nLABEL ${label}\nVOLUME /workspace/cache\nENTRYPOINT ["true"]\n`,
    );
    const path = join(dir, "volume.tar");
    await pipeline(await docker.getImage(id).get(), createWriteStream(path));
    await docker.getImage(id).remove({ force: true });
    await expect(sandbox.loadImage(path)).rejects.toThrow(/declares VOLUME \/workspace\/cache; remove it/);
    await expect(docker.getImage(id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(await docker.listImages({ all: true, filters: { label: [label] } })).toEqual([]);
  });

  it("stops the load when a bad member comes after the layers were sent, leaving nothing", async () => {
    const label = `holdout.test.late=${run}`;
    const id = await buildImage(
      `FROM holdout/base:bookworm\nRUN echo ${run} > /late-test\nLABEL ${label}\nENTRYPOINT ["true"]\n`,
    );
    const saved = join(dir, "late.tar");
    await pipeline(await docker.getImage(id).get(), createWriteStream(saved));
    await docker.getImage(id).remove({ force: true });
    // The whole archive, manifest and all, then a member that escapes it.
    const path = await rewriteTar(saved, (members) => [
      ...members,
      { name: "../escape", body: Buffer.from("x") },
    ]);
    await expect(sandbox.loadImage(path)).rejects.toThrow(
      /"\.\.\/escape" has a "\.\." component \(it could point outside the archive\) \[unsafe_path\]$/,
    );
    await expect(docker.getImage(id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(await docker.listImages({ all: true, filters: { label: [label] } })).toEqual([]);
  });

  it("calls a connection to the engine lost mid-load ours to retry, not the team's fault, and does not hang", async () => {
    // The real engine behind a relay that hangs up once 8 MiB of the request have gone through.
    const socketPath = join(dir, "relay.sock");
    const relay = createServer((client) => {
      const engine = connect("/var/run/docker.sock");
      let sent = 0;
      client.on("data", (data: Buffer) => {
        sent += data.length;
        if (sent > 8 * 2 ** 20) {
          client.destroy();
          engine.destroy();
        }
      });
      client.pipe(engine).pipe(client);
      client.on("error", () => undefined);
      engine.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => relay.listen(socketPath, resolve));
    try {
      // Every layer sent (the base's too), so that the archive is larger than what the relay lets by.
      const cut = new Sandbox(connectDocker({ socketPath }), {
        keeperImage: "holdout/base:bookworm",
        sharedLayerImages: [],
      });
      const err: unknown = await cut.loadImage(plainTar).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(SandboxRejection);
      expect(String(err)).toMatch(/the engine stopped reading the archive/);
    } finally {
      relay.close();
    }
  });

  it("loads an archive whatever the order of its members (manifest.json first)", async () => {
    const id = await buildImage(
      `FROM holdout/base:bookworm\nRUN echo ${run} > /order-test\nENTRYPOINT ["true"]\n`,
    );
    const saved = join(dir, "order.tar");
    await pipeline(await docker.getImage(id).get(), createWriteStream(saved));
    await docker.getImage(id).remove({ force: true });
    const path = await rewriteTar(saved, (members) => [
      ...members.filter((m) => m.name === "manifest.json"),
      ...members.filter((m) => m.name !== "manifest.json").reverse(),
    ]);
    try {
      await expect(sandbox.loadImage(path)).resolves.toMatchObject({ imageId: id, preexisting: false });
    } finally {
      await sandbox.removeImage(id);
    }
  });

  it("rejects before loading anything when the archive is bad", async () => {
    const path = join(dir, "garbage.tar");
    await writeFile(path, "garbage".repeat(1000));
    await expect(sandbox.loadImage(path)).rejects.toBeInstanceOf(SandboxRejection);
  });
});

function entry(configDigest: string): { Config: string; RepoTags: string[]; Layers: string[] } {
  return { Config: `${configDigest}.json`, RepoTags: ["evil/tag:latest"], Layers: [] };
}

/** An archive of `files` (name → body), written to the test's directory. */
async function writeTar(files: Record<string, string | Buffer>): Promise<string> {
  const path = join(dir, `${randomUUID()}.tar`);
  await writeFile(path, await tarBytes(files));
  return path;
}

const tarBytes = (files: Record<string, string | Buffer>): Promise<Buffer> =>
  tarOf(Object.entries(files).map(([name, body]) => ({ name, body })));

type Member = { name: string; body: Buffer; header?: Parameters<ReturnType<typeof tarPack>["entry"]>[0] };

/** Re-packs an archive with its members reordered, added or removed by `edit`. */
async function rewriteTar(source: string, edit: (members: Member[]) => Member[]): Promise<string> {
  const members: Member[] = [];
  const extract = tarExtract();
  const reading = pipeline(createReadStream(source), extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    members.push({ name: entry.header.name, body: Buffer.concat(chunks), header: entry.header });
  }
  await reading;
  const pack = tarPack();
  for (const m of edit(members)) {
    pack.entry({ ...(m.header ?? {}), name: m.name, size: m.body.length }, m.body);
  }
  pack.finalize();
  const path = join(dir, `${randomUUID()}.tar`);
  await pipeline(Readable.from(pack), createWriteStream(path));
  return path;
}

function buildImage(dockerfile: string, tag?: string): Promise<string> {
  return buildTestImage(docker, dockerfile, tag ? { tag } : {});
}
