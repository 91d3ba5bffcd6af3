import { createHash } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { holdout } from "../support/cli.ts";
import { configBytes, tarOf, tinyModelParts } from "../support/crafted-images.ts";
import { buildImage, CONSTANT_PREDICTIONS, imageId, removeImage } from "../support/images.ts";
import { startStack, type Stack } from "../support/stack.ts";

// `holdout submit --image` sends only what the server lacks for the team: a first submission sends
// every layer (gzipped), a resubmission whose last layer changed sends that layer alone, and the
// rebuilt image is scored as any other. Bytes are the server's count (what the layer uploads read).

const SUBMISSION = /submission ([0-9a-f-]{36}): (\w+)/;
const HELD = /^(\d+) of (\d+) layers already on the server/m;
const SENT = /^sent [\d.]+ (?:B|KiB|MiB|GiB) \((\d+) bytes\): (\d+) of (\d+) layers/m;

describe("holdout submit --image: only new layers travel", () => {
  let stack: Stack;
  const images: string[] = [];

  beforeAll(async () => {
    stack = await startStack({ worker: true });
  });
  afterAll(async () => {
    await stack?.close();
    for (const image of images) await removeImage(image).catch(() => undefined);
  });

  it("a resubmission whose last layer changed sends that layer alone, and is scored", async () => {
    const team = await stack.createTeam();
    const env = { HOLDOUT_SERVER: stack.url, HOLDOUT_TOKEN: team.token };
    // The constant example model, with "weights" as its last layer; then the same with new weights.
    const v1 = await buildImage(
      "FROM holdout/example-constant:latest\nRUN echo 'weights v1' > /tmp/.weights",
      "layers-v1",
    );
    images.push(v1);
    const v2 = await buildImage(`FROM ${v1}\nRUN echo 'weights v2' > /tmp/.weights`, "layers-v2");
    images.push(v2);

    const first = await holdout(["submit", "--image", v1, "--model", "layers v1"], env);
    expect(first.code, first.stderr).toBe(0);
    const [, held1, total1] = HELD.exec(first.stderr)!;
    expect(held1).toBe("0");
    const [, firstBytes, sent1] = SENT.exec(first.stderr)!;
    expect(sent1).toBe(total1);

    const second = await holdout(["submit", "--image", v2, "--model", "layers v2", "--wait"], env);
    expect(second.code, second.stderr).toBe(0);
    const [, held2, total2] = HELD.exec(second.stderr)!;
    expect(Number(total2)).toBe(Number(total1) + 1);
    expect(held2).toBe(total1);
    const [, secondBytes, sent2] = SENT.exec(second.stderr)!;
    expect(sent2).toBe("1");
    expect(Number(secondBytes)).toBeLessThan(Number(firstBytes) * 0.05);
    expect(second.stdout).toMatch(/scored\s+scored on the hidden test set/);

    const [, id] = SUBMISSION.exec(second.stdout)!;
    const row = await stack.db.submission.findUniqueOrThrow({ where: { id: id! } });
    expect(row).toMatchObject({ state: "scored", modelName: "layers v2", kind: "image" });
    // The image the worker loaded is the one built here (its ID is the config's digest).
    const status = await holdout(["status", id!, "--json"], env);
    expect(status.code, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as { image: { digest: string } }).image.digest).toBe(await imageId(v2));
  }, 600_000);

  it("--no-layers sends the whole archive, as before", async () => {
    const team = await stack.createTeam();
    const env = { HOLDOUT_SERVER: stack.url, HOLDOUT_TOKEN: team.token };
    const run = await holdout(
      ["submit", "--image", "holdout/example-constant:latest", "--no-layers", "--model", "whole"],
      env,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("sending docker save holdout/example-constant:latest");
    expect(run.stderr).not.toMatch(HELD);
  }, 300_000);

  // Engines with the containerd image store save layers as the registry would ship them, gzip blobs
  // named by the compressed digest. A stand-in `docker` serves such an archive: the CLI must still
  // know each layer by its diff ID, and the server rebuild an image the worker loads and scores.
  it("reads an OCI layout whose layer blobs are gzip-compressed (the containerd image store)", async () => {
    const team = await stack.createTeam();
    const parts = await tinyModelParts(CONSTANT_PREDICTIONS);
    const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
    const config = configBytes(parts);
    const blobs = parts.layers.map((l) => gzipSync(l.stored));
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: `sha256:${sha(config)}`,
        size: config.length,
      },
      layers: blobs.map((b) => ({
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: `sha256:${sha(b)}`,
        size: b.length,
      })),
    });
    const archive = await tarOf([
      { name: "blobs/", type: "directory" },
      { name: "blobs/sha256/", type: "directory" },
      ...blobs.map((b) => ({ name: `blobs/sha256/${sha(b)}`, body: b })),
      { name: `blobs/sha256/${sha(config)}`, body: config },
      { name: `blobs/sha256/${sha(manifest)}`, body: manifest },
      { name: "oci-layout", body: '{"imageLayoutVersion":"1.0.0"}' },
      {
        name: "manifest.json",
        body: JSON.stringify([
          {
            Config: `blobs/sha256/${sha(config)}`,
            RepoTags: null,
            Layers: blobs.map((b) => `blobs/sha256/${sha(b)}`),
          },
        ]),
      },
    ]);
    const bin = await mkdtemp(path.join(os.tmpdir(), "holdout-fake-docker-"));
    try {
      await writeFile(path.join(bin, "archive.tar"), archive);
      const diffIds = JSON.stringify(parts.layers.map((l) => l.diffId));
      await writeFile(
        path.join(bin, "docker"),
        [
          "#!/bin/sh",
          `if [ "$1" = image ]; then echo 'sha256:${sha(config)} ${diffIds}'; exit 0; fi`,
          `if [ "$1" = save ]; then cat '${path.join(bin, "archive.tar")}'; exit 0; fi`,
          "exit 1",
        ].join("\n"),
      );
      await chmod(path.join(bin, "docker"), 0o755);
      const env = {
        HOLDOUT_SERVER: stack.url,
        HOLDOUT_TOKEN: team.token,
        PATH: `${bin}:${process.env.PATH ?? ""}`,
      };
      const run = await holdout(
        ["submit", "--image", "team/model:containerd", "--model", "oci", "--wait"],
        env,
      );
      expect(run.code, run.stderr).toBe(0);
      const [, , sent, total] = SENT.exec(run.stderr)!;
      expect(sent).toBe(total);
      expect(run.stdout).toMatch(/scored\s+scored on the hidden test set/);
      const [, id] = SUBMISSION.exec(run.stdout)!;
      const row = await stack.db.submission.findUniqueOrThrow({ where: { id: id! } });
      expect(row.state).toBe("scored");
    } finally {
      await rm(bin, { recursive: true, force: true });
    }
  }, 300_000);
});
