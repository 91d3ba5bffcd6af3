import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrivateRedis } from "../support/faults.ts";
import { CONSTANT_PREDICTIONS, shellModelTarball } from "../support/images.ts";
import { Cleanup } from "../support/processes.ts";
import { removeSubmissionImage, startIsolated, type System } from "./harness.ts";

// Issue 7: Redis keeps nothing here (no RDB, no AOF). Restarting it with submissions queued loses
// every job; PostgreSQL is the truth, so all of them must be re-enqueued from it and scored.
describe("Redis restarted with submissions queued", () => {
  const cleanup = new Cleanup();
  let system: System;
  let redis: PrivateRedis;
  let model: string;

  beforeAll(async () => {
    ({ system, redis } = await startIsolated(cleanup));
    model = await shellModelTarball(`sleep 15; ${CONSTANT_PREDICTIONS}`);
    cleanup.add("model tarball", () => rm(model, { force: true }));
    await system.startApi();
    await system.startWorker("w1", { HOLDOUT_WORKER_CONCURRENCY: "1" });
  }, 300_000);

  afterAll(() => cleanup.run(), 300_000);

  it("re-enqueues every queued and running submission from PostgreSQL, and all end scored", async () => {
    const team = await system.createTeam();
    // One worker taking one job at a time: the first runs while the next two wait in Redis.
    const ids = [await system.submit(team.token, model)];
    cleanup.add("model image", () => removeSubmissionImage(system, ids[0]!));
    await system.waitForModelRunning(ids[0]!);
    for (let i = 0; i < 2; i++) ids.push(await system.submit(team.token, model));
    for (const id of ids.slice(1))
      expect((await system.row(id))?.state, await system.describe(id)).toBe("queued");
    expect((await system.row(ids[0]!))?.state).toBe("running");

    await redis.restart();

    for (const id of ids) {
      const final = await system.waitForFinal(id, 300_000);
      const story = await system.describe(id);
      expect(final.state, story).toBe("scored");
      expect(await system.taskResults(id), story).toBe(5);
      expect(
        (await system.timeline(id)).filter((l) => l.startsWith("scored")),
        story,
      ).toHaveLength(1);
    }
    expect(await system.leftovers()).toEqual([]);
  }, 420_000);
});
