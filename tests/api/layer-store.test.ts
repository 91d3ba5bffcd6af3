import { createHash } from "node:crypto";
import { mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweepLayerStore } from "../../apps/api/src/services/layer-sweep.ts";
import { tarBuffer } from "../support/images.ts";
import { putLayer, queryLayers } from "../support/layers.ts";
import { startStack, type Stack } from "../support/stack.ts";

const digestOf = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const DAY = 24 * 3600_000;

// The layer store's lifecycle, against a real API and database: a layer half sent is never usable,
// a team's store stays under its cap (least recently used layers go first), layers unused for the
// retention period are removed, and files without a record (orphans) and dead partial files go too.
describe("the layer store", () => {
  let stack: Stack;
  /** Small enough that three 40 KiB layers do not fit. */
  const CAP = 100 * 1024;

  beforeAll(async () => {
    stack = await startStack({ layerStore: { retentionMs: 30 * DAY, maxTeamBytes: CAP } });
  });
  afterAll(() => stack?.close());

  const teamDir = (teamId: string) => path.join(stack.dataDir, "layers", teamId);
  const filesOf = (teamId: string) => readdir(teamDir(teamId)).catch(() => [] as string[]);

  /** A layer tar of about `kib` KiB of incompressible bytes, distinct per `seed`. */
  async function layer(seed: string, kib = 40): Promise<Buffer> {
    const body = Buffer.alloc(kib * 1024);
    for (let i = 0; i < body.length; i += 32)
      createHash("sha256").update(`${seed}${i}`).digest().copy(body, i);
    return tarBuffer({ [`opt/${seed}.bin`]: body });
  }

  it("never keeps a layer whose upload broke off", async () => {
    const team = await stack.createTeam();
    const bytes = await layer("broken");
    const digest = digestOf(bytes);
    // Half the layer, then the connection fails.
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) return controller.error(new Error("connection lost"));
        sent = true;
        controller.enqueue(bytes.subarray(0, bytes.length / 2));
      },
    });
    await fetch(`${stack.url}/api/v1/layers/${digest}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${team.token}`, "content-type": "application/octet-stream" },
      body,
      duplex: "half",
    }).catch(() => undefined);
    // The server notices the broken body and removes its partial file.
    for (let i = 0; i < 50 && (await filesOf(team.id)).length > 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(await filesOf(team.id)).toEqual([]);
    expect((await queryLayers(stack.url, team.token, [digest])).body.held).toEqual([]);
    // Sent whole, it is held.
    expect((await putLayer(stack.url, team.token, digest, bytes)).status).toBe(201);
    expect((await queryLayers(stack.url, team.token, [digest])).body.held).toEqual([digest]);
  });

  it("makes room under a team's cap by removing its least recently used layers", async () => {
    const team = await stack.createTeam();
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((s) => layer(`cap-${s}`)));
    const [da, db, dc] = [a!, b!, c!].map(digestOf);
    expect((await putLayer(stack.url, team.token, da!, a!)).status).toBe(201);
    expect((await putLayer(stack.url, team.token, db!, b!)).status).toBe(201);
    // `a` is used again (answered as held): `b` is now the least recently used.
    expect((await queryLayers(stack.url, team.token, [da!])).body.held).toEqual([da]);
    expect((await putLayer(stack.url, team.token, dc!, c!)).status).toBe(201);
    expect((await queryLayers(stack.url, team.token, [da!, db!, dc!])).body.held).toEqual([da, dc]);
    expect((await filesOf(team.id)).sort()).toEqual([da!.slice(7), dc!.slice(7)].sort());
    // Another team's store is its own: its cap is not touched by this one's layers.
    const other = await stack.createTeam();
    expect((await putLayer(stack.url, other.token, db!, b!)).status).toBe(201);
    expect((await queryLayers(stack.url, team.token, [da!, db!, dc!])).body.held).toEqual([da, dc]);
  });

  it("a layer bigger than the whole cap is refused, and nothing is kept", async () => {
    const team = await stack.createTeam();
    const big = await layer("big", 120);
    const put = await putLayer(stack.url, team.token, digestOf(big), big);
    expect(put.status).toBe(413);
    expect(put.body.code).toBe("HOLDOUT_ERR_UPLOAD_TOO_LARGE");
    expect(await filesOf(team.id)).toEqual([]);
  });

  it("a gzip bomb sent as a layer stops early, and nothing is kept", async () => {
    const team = await stack.createTeam();
    // 256 MiB of zeros compress to about 256 KiB: far past the ratio the archive package allows.
    const bomb = gzipSync(Buffer.alloc(256 * 1024 * 1024), { level: 9 });
    const put = await fetch(`${stack.url}/api/v1/layers/${digestOf(Buffer.from("bomb"))}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${team.token}`, "content-type": "application/gzip" },
      body: bomb,
    });
    expect(put.status).toBe(400);
    const problem = (await put.json()) as { code: string; detail: string };
    expect(problem.code).toBe("HOLDOUT_ERR_LAYER_INVALID");
    expect(problem.detail).toMatch(/likely gzip bomb \[compression_ratio\]/);
    expect(await filesOf(team.id)).toEqual([]);
  });

  it("the sweep removes layers unused for the retention period, orphans and dead partial files", async () => {
    const team = await stack.createTeam();
    const [old, fresh] = await Promise.all([layer("old", 8), layer("fresh", 8)]);
    const [dOld, dFresh] = [digestOf(old), digestOf(fresh)];
    for (const [d, bytes] of [
      [dOld, old],
      [dFresh, fresh],
    ] as const) {
      expect((await putLayer(stack.url, team.token, d, bytes)).status).toBe(201);
    }
    await stack.db.teamLayer.update({
      where: { teamId_digest: { teamId: team.id, digest: dOld } },
      data: { lastUsedAt: new Date(Date.now() - 31 * DAY) },
    });
    // An orphan (a file no record names) and a partial file, both old; and a fresh orphan, which an
    // upload may be about to record, so it stays.
    const dir = teamDir(team.id);
    await mkdir(dir, { recursive: true });
    const orphan = "ab".repeat(32);
    const freshOrphan = "cd".repeat(32);
    const partial = `.partial-${"ef".repeat(32)}-dead`;
    for (const name of [orphan, freshOrphan, partial]) await writeFile(path.join(dir, name), "x");
    const hourAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(path.join(dir, orphan), hourAgo, hourAgo);
    await utimes(path.join(dir, partial), hourAgo, hourAgo);

    const swept = await sweepLayerStore(stack.db, stack.dataDir, 30 * DAY);
    expect(swept.expired).toBeGreaterThanOrEqual(1);
    expect((await filesOf(team.id)).sort()).toEqual([dFresh.slice(7), freshOrphan].sort());
    expect((await queryLayers(stack.url, team.token, [dOld, dFresh])).body.held).toEqual([dFresh]);
  });
});
