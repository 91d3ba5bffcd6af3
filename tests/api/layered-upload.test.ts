import { createHash } from "node:crypto";
import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  fileMember,
  imageArchive,
  tinyModelParts,
  withLayerOf,
  withRunConfig,
  type ImageParts,
  type Member,
} from "../support/crafted-images.ts";
import { CONSTANT_PREDICTIONS } from "../support/images.ts";
import { putLayer, queryLayers, sendLayeredImage, submitLayered } from "../support/layers.ts";
import { configBytes } from "../support/crafted-images.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

const digestOf = (bytes: Buffer | string) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

// Layered uploads against a real API and worker: only the layers a team's store lacks travel, the
// server checks every layer's digest itself, rebuilds the archive, and the worker loads it with the
// same checks as a full upload. No team learns or uses another team's layers.
describe("layered uploads through the API and a worker", () => {
  let stack: Stack;
  let parts: ImageParts;
  let v2: ImageParts;
  const files: string[] = [];

  beforeAll(async () => {
    stack = await startStack({ worker: true, workerEnv: { HOLDOUT_RUN_TIMEOUT_SECONDS: "30" } });
    // A model that scores (0.5 on every task), and the same with one more small layer on top: the
    // "weights changed" resubmission.
    parts = await tinyModelParts(CONSTANT_PREDICTIONS);
    v2 = await withLayerOf(parts, [fileMember("opt/weights.bin", "weights, version 2\n")]);
  });

  afterAll(async () => {
    await stack?.close();
    await Promise.all(files.map((f) => rm(f, { force: true })));
  });

  async function quotaUsed(token: string): Promise<number> {
    const res = await fetch(`${stack.url}/api/v1/quota`, { headers: { authorization: `Bearer ${token}` } });
    return ((await res.json()) as { usedTotal: number }).usedTotal;
  }

  async function storedLayers(teamId: string): Promise<string[]> {
    return readdir(path.join(stack.dataDir, "layers", teamId)).catch(() => []);
  }

  it("a resubmission sends only its new layer and is scored as the same image sent whole", async () => {
    const team = await stack.createTeam();
    const archive = await imageArchive(v2);
    files.push(archive.file);
    const whole = await uploadImage(stack.url, team.token, archive.file, { model: "whole" });
    expect(whole.status).toBe(202);
    const wholeFinal = await waitForFinal(stack.url, team.token, whole.body.id, 120_000);
    expect(wholeFinal.state).toBe("scored");

    const first = await sendLayeredImage(stack.url, team.token, parts, "layered v1");
    expect(first.status).toBe(202);
    expect(first.held).toEqual([]);
    const second = await sendLayeredImage(stack.url, team.token, v2, "layered v2");
    expect(second.status, JSON.stringify(second.body)).toBe(202);
    expect(second.held, "the base layer is held for the team").toEqual([parts.layers[0]!.diffId]);
    // The base layer (about 3 MB) does not travel again; the new one is a few hundred bytes gzipped.
    expect(second.sentBytes).toBeGreaterThan(0);
    expect(second.sentBytes).toBeLessThan(first.sentBytes * 0.05);

    const final = await waitForFinal(stack.url, team.token, second.body.id, 120_000);
    expect(final.failure).toBeNull();
    expect(final.state).toBe("scored");
    // The same image (its ID is the config's digest) with the same scores as the whole upload.
    expect(final.image).toMatchObject({ digest: (wholeFinal.image as { digest: string }).digest });
    expect(final.meanAuc).toBe(wholeFinal.meanAuc);
    expect(final.tasks).toEqual(wholeFinal.tasks);
    expect(await quotaUsed(team.token)).toBe(3);
  });

  it("refuses a layer whose bytes are not the digest it is sent under, and keeps nothing", async () => {
    const team = await stack.createTeam();
    const layer = parts.layers[0]!;
    const lie = digestOf("another layer altogether");
    for (const plain of [false, true]) {
      const put = await putLayer(stack.url, team.token, lie, layer.stored, plain);
      expect(put.status).toBe(400);
      expect(put.body.code).toBe("HOLDOUT_ERR_LAYER_DIGEST_MISMATCH");
      expect(put.body.detail).toContain(`have the digest ${layer.diffId}`);
      expect(put.body.detail).toContain(lie);
    }
    expect((await queryLayers(stack.url, team.token, [lie, layer.diffId])).body.held).toEqual([]);
    expect(await storedLayers(team.id), "files left in the team's store").toEqual([]);
    // A layer that claims to be gzip and is not: refused as such.
    const broken = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.alloc(64, 7)]);
    const put = await putLayer(stack.url, team.token, layer.diffId, broken, true);
    expect(put.status).toBe(400);
    expect(put.body.code).toBe("HOLDOUT_ERR_LAYER_INVALID");
    expect(await storedLayers(team.id)).toEqual([]);
  });

  it("never tells one team which layers another holds, nor lets it use them", async () => {
    const a = await stack.createTeam();
    const b = await stack.createTeam();
    const digests = parts.layers.map((l) => l.diffId);
    for (const layer of parts.layers) {
      expect((await putLayer(stack.url, a.token, layer.diffId, layer.stored)).status).toBe(201);
    }
    expect((await queryLayers(stack.url, a.token, digests)).body.held).toEqual(digests);
    expect((await queryLayers(stack.url, b.token, digests)).body.held, "B learns of A's layers").toEqual([]);

    const refused = await submitLayered(stack.url, b.token, {
      model: "borrowed",
      config: configBytes(parts),
      layers: digests,
    });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe("HOLDOUT_ERR_LAYER_UNKNOWN");
    expect(refused.body.detail).toContain(digests[0]);
    expect(await quotaUsed(b.token), "a refused submission is not charged").toBe(0);
    expect(await storedLayers(b.id)).toEqual([]);
  });

  it("refuses a submission naming layers nobody sent, before anything is charged", async () => {
    const team = await stack.createTeam();
    const unknown = digestOf("never sent");
    const refused = await submitLayered(stack.url, team.token, {
      model: "made up",
      config: configBytes(parts),
      layers: [unknown],
    });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe("HOLDOUT_ERR_LAYER_UNKNOWN");
    expect(refused.body.detail).toContain(unknown);
    const malformed = await submitLayered(stack.url, team.token, {
      model: "made up",
      config: configBytes(parts),
      layers: ["sha256:not-hex"],
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.detail).toMatch(/layers/);
    expect(await quotaUsed(team.token)).toBe(0);
  });

  it("a hostile image sent in layers is refused by the worker's ingest checks, as it is whole", async () => {
    const team = await stack.createTeam();
    // A layer that writes etc/ld.so.preload through a symlink to /etc it created.
    const dir: Member = { name: "etc/", type: "directory", mode: 0o755 };
    const link: Member = { name: "opt/through", type: "symlink", linkname: "/etc" };
    const through = fileMember("opt/through/ld.so.preload", "/tmp/hook.so\n");
    const hostileLayer = await withLayerOf(parts, [dir, link, through]);
    // A config that steers the dynamic loader.
    const env = Array.isArray(parts.config.config.Env) ? (parts.config.config.Env as string[]) : [];
    const hostileConfig = withRunConfig(parts, { Env: [...env, "LD_PRELOAD=/tmp/hook.so"] });
    for (const [hostile, reason] of [
      [hostileLayer, /through the symlink.*\[write_through_symlink\]/],
      [hostileConfig, /sets LD_PRELOAD .*\[env_steering\]/],
    ] as const) {
      const sent = await sendLayeredImage(stack.url, team.token, hostile, "hostile");
      expect(sent.status).toBe(202);
      const final = await waitForFinal(stack.url, team.token, sent.body.id, 120_000);
      expect(final.state).toBe("failed");
      expect(final.failure).toMatchObject({ category: "image_rejected" });
      expect(final.failure?.message).toMatch(reason);
    }
  });
});
