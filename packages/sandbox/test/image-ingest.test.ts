import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { pack as tarPack } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDocker, Sandbox, SandboxRejection, steeringVariable } from "../src/index.ts";
import { summariseEngineError } from "../src/engine-errors.ts";
import { openArchive, readImageArchive } from "../src/image-tarball.ts";
import { packHeader } from "../src/load-image.ts";
import { image, legacyMembers, ociMembers, tarOf, type Image, type Member } from "./crafted-archive.ts";

// Integration tests against the real Docker engine: hostile archive forms are refused before the
// engine loads anything, and what the engine gets is rebuilt (and still loads).

const docker = connectDocker();
const run = randomUUID().slice(0, 8);
const sandbox = new Sandbox(docker, {
  keeperImage: "holdout/base:bookworm",
  tarballLimits: { maxUncompressedBytes: 96 * 1024 ** 2, maxConfigBytes: 64 * 1024, maxLayers: 5 },
});
const exec = promisify(execFile);
let dir: string;
let helloLayer: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "holdout-sandbox-ingest-"));
  helloLayer = await tarOf([{ name: "hello", body: `#!/bin/sh\necho ${run}\n` }]);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function archive(members: Member[]): Promise<string> {
  const path = join(dir, `${randomUUID()}.tar`);
  await writeFile(path, await tarOf(members));
  return path;
}

/** Our images on the engine: the crafted ones carry this run's label. */
async function leftovers(): Promise<string[]> {
  const images = await docker.listImages({ all: true, filters: { label: [`holdout.test=${run}`] } });
  return images.map((i) => i.Id);
}

async function refused(path: string): Promise<SandboxRejection> {
  const err: unknown = await sandbox.loadImage(path).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SandboxRejection);
  expect(await leftovers()).toEqual([]);
  return err as SandboxRejection;
}

const plain = (tar: Buffer, config: Record<string, unknown> = {}): Image => image([{ tar }], config, run);

describe("image ingest refuses, before the engine loads anything", () => {
  it("an OCI index that describes another image than manifest.json (tag annotation naming our base)", async () => {
    const img = plain(helloLayer);
    const path = await archive(
      ociMembers(img, {
        annotation: "holdout/base:bookworm",
        describes: plain(helloLayer, { config: { Entrypoint: ["/another"] } }),
        repoTags: [],
      }),
    );
    const err = await refused(path);
    expect(err.code).toBe("oci_layout");
    expect(err.reason).toMatch(/describes another image config than manifest\.json/);
    const base = await docker.getImage("holdout/base:bookworm").inspect();
    expect(base.Config.Labels?.["holdout.test"]).toBeUndefined();
  });

  it("a layer that writes through a symlink it created", async () => {
    const layer = await tarOf([
      { name: "etc", type: "symlink", linkname: "/proc/self/root/etc" },
      { name: "etc/evil", body: "x" },
    ]);
    const err = await refused(await archive(legacyMembers(plain(layer))));
    expect(err.code).toBe("write_through_symlink");
    expect(err.reason).toMatch(/"etc\/evil" would be written through the symlink "etc"/);
  });

  it("a compressed-layer bomb, stopped while it streams", async () => {
    const tar = await tarOf([{ name: "zeros", body: Buffer.alloc(200 * 1024 ** 2) }]);
    const img = image([{ tar, stored: gzipSync(tar, { level: 1 }) }], {}, run);
    const err = await refused(await archive(legacyMembers(img)));
    expect(["compression_ratio", "too_large"]).toContain(err.code);
    expect(err.reason).toMatch(
      /^the image.s layers (expands more than 100 times when decompressed; refusing a likely gzip bomb|unpacks to more than)/,
    );
  });

  it("an xz layer, saying so", async () => {
    const xz = Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.alloc(64)]);
    const img = image([{ tar: helloLayer, stored: xz }], {}, run);
    const err = await refused(await archive(legacyMembers(img)));
    expect(err.code).toBe("unsupported_compression");
  });

  it("a member renamed by a PAX GNU.sparse.name record", async () => {
    const img = plain(helloLayer);
    const members = legacyMembers(img).map((m) =>
      m.name === "manifest.json" ? { ...m, pax: { "GNU.sparse.name": `${img.configHex}.json` } } : m,
    );
    const err = await refused(await archive(members));
    expect(err.code).toBe("gnu_sparse");
  });

  it("a huge config, too many layers, a device node", async () => {
    const big = plain(helloLayer, { padding: "x".repeat(100 * 1024) });
    expect((await refused(await archive(legacyMembers(big)))).code).toBe("too_large");
    const layers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => tarOf([{ name: `f${i}`, body: String(i) }])),
    );
    const many = image(
      layers.map((tar) => ({ tar })),
      {},
      run,
    );
    expect((await refused(await archive(legacyMembers(many)))).reason).toMatch(
      /more than 5 layers, the limit \[too_many_layers\]$/,
    );
  });

  it("an Env entry that steers the loader or the runtime hooks; an empty one passes the check", async () => {
    const img = plain(helloLayer, {
      config: {
        Entrypoint: ["/hello"],
        Env: ["PATH=/bin", "LD_PRELOAD=/evil.so"],
        Labels: { "holdout.test": run },
      },
    });
    const err = await refused(await archive(legacyMembers(img)));
    expect(err.reason).toBe(
      "the image sets LD_PRELOAD in its environment, which steers the dynamic loader or the container runtime's hooks; set it in your entrypoint script instead (or clear it with `ENV LD_PRELOAD=`) [env_steering]",
    );
    expect(
      ["NVIDIA_VISIBLE_DEVICES=all", "GCONV_PATH=/x", "GLIBC_TUNABLES=a=b", "CUDA_VERSION=12.4"].map(
        steeringVariable,
      ),
    ).toEqual(["NVIDIA_VISIBLE_DEVICES", "GCONV_PATH", "GLIBC_TUNABLES", "CUDA_VERSION"]);
    expect(["LD_PRELOAD=", "PYTHONPATH=/src", "HOME=/tmp"].map(steeringVariable)).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });
});

describe("the engine's errors", () => {
  it("are summarised for the team, never forwarded; a full disk is the image's", () => {
    const full = summariseEngineError(
      "write /var/lib/docker/tmp/docker-import-1234/abc/layer.tar: no space left on device",
    );
    expect(full.reason).toBe(
      "the Docker engine could not load the image: the image did not fit on the worker's disk as it was unpacked; make it smaller [disk_full]",
    );
    expect(full).toBeInstanceOf(SandboxRejection);
    const other = summariseEngineError("open /var/lib/docker/overlay2/x/secret-path: something odd");
    expect(other.reason).toBe("the Docker engine could not load the image [engine_refused]");
    expect(String((other.cause as Error).message)).toMatch(/secret-path/);
  });
});

describe("the rebuilt archive", () => {
  it("of a Docker 25 save (OCI layout beside manifest.json) loads by ID, with no tag applied", async () => {
    const img = plain(helloLayer);
    const tag = `holdout-test-17a/oci-${run}:latest`;
    const loaded = await sandbox.loadImage(await archive(ociMembers(img, { annotation: tag })));
    try {
      expect(loaded.imageId).toBe(`sha256:${img.configHex}`);
      expect((await docker.getImage(loaded.imageId).inspect()).RepoTags).toEqual([]);
      await expect(docker.getImage(tag).inspect()).rejects.toMatchObject({ statusCode: 404 });
    } finally {
      await sandbox.removeImage(loaded.imageId);
    }
  });

  it("of a containerd-store save (a nested index with a provenance attestation) loads by ID", async () => {
    const img = plain(helloLayer);
    const loaded = await sandbox.loadImage(
      await archive(ociMembers(img, { annotation: "someteam/nested:v1", nested: true })),
    );
    try {
      expect(loaded.imageId).toBe(`sha256:${img.configHex}`);
      await expect(docker.getImage("someteam/nested:v1").inspect()).rejects.toThrow();
    } finally {
      await sandbox.removeImage(loaded.imageId);
    }
  });

  it("holds only the layers, the config and manifest.json, under headers of ours, as GNU tar reads it", async () => {
    const gzLayer = await tarOf([
      { name: "dir/", type: "directory" },
      { name: "dir/data", body: "d" },
    ]);
    const img = image([{ tar: helloLayer }, { tar: gzLayer, stored: gzipSync(gzLayer) }], {}, run);
    const source = await archive([
      ...legacyMembers(img, ["victim/tag:latest"]),
      { name: "repositories", body: '{"victim":{"tag":"x"}}' },
    ]);
    const rebuilt = join(dir, "rebuilt.tar");
    const out = tarPack();
    const writing = pipeline(out, createWriteStream(rebuilt));
    const checked = await readImageArchive(source, await openArchive(source, {}), (header) => {
      const chunks: Buffer[] = [];
      return {
        write: (chunk) => Promise.resolve(void chunks.push(chunk)),
        end: () => Promise.resolve(void out.entry(packHeader(header), Buffer.concat(chunks))),
      };
    });
    const configHeader = {
      name: checked.configName,
      type: "file" as const,
      size: checked.configBytes.length,
    };
    out.entry(packHeader(configHeader), checked.configBytes);
    out.finalize();
    await writing;
    const { stdout } = await exec("tar", ["--quoting-style=literal", "-tvf", rebuilt]);
    const lines = stdout.split("\n").filter((l) => l !== "");
    // `-rw-r--r-- 0/0 2048 1970-01-01 00:00 <hex>/layer.tar`: our mode, owner and time, not the upload's.
    for (const line of lines) expect(line).toMatch(/^(-rw-r--r--|drwxr-xr-x) 0\/0 +\d+ 1970-01-01 00:00 /);
    const names = lines.map((l) => l.split(/\s+/).pop());
    expect(names.sort()).toEqual(
      [...img.layers.flatMap((l) => [l.hex, `${l.hex}/layer.tar`]), `${img.configHex}.json`].sort(),
    );
  });

  it("loads in docker load whatever the order of the archive's members", async () => {
    const layers = [helloLayer, await tarOf([{ name: "b", body: "b" }])];
    const img = image(
      layers.map((tar) => ({ tar })),
      {},
      run,
    );
    const members = legacyMembers(img, [`holdout-test-17a/order-${run}:latest`]);
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray(members, { minLength: members.length }), async (order) => {
        const loaded = await sandbox.loadImage(await archive(order));
        try {
          expect(loaded).toMatchObject({ imageId: `sha256:${img.configHex}`, preexisting: false });
        } finally {
          await sandbox.removeImage(loaded.imageId);
        }
      }),
      { numRuns: 6, seed: 170 },
    );
    await expect(docker.getImage(`holdout-test-17a/order-${run}:latest`).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
    expect(await leftovers()).toEqual([]);
  });
});
