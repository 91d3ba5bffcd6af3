import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE_IMAGE } from "../support/env.ts";
import { startPrivateDocker, type PrivateDocker } from "../support/faults.ts";
import { CONSTANT_PREDICTIONS, shellModelTarball } from "../support/images.ts";
import { Cleanup } from "../support/processes.ts";
import { startIsolated, type System } from "./harness.ts";

// Issue 7: restart the Docker engine mid-run → an infrastructure retry that then succeeds; an
// engine that stays down → `infrastructure` once the retries are spent, not charged to the team.
// The engine is a private dockerd (see startPrivateDocker): the shared one is never restarted.
describe("the Docker engine restarted mid-run", () => {
  const cleanup = new Cleanup();
  let system: System;
  let engine: PrivateDocker;
  let model: string;

  beforeAll(async () => {
    engine = await startPrivateDocker();
    cleanup.add("private dockerd", () => engine.close());
    // The keeper's image (HOLDOUT_KEEPER_IMAGE); the model's image comes with its upload.
    await engine.loadImages([BASE_IMAGE]);
    ({ system } = await startIsolated(cleanup, { dockerSocket: engine.socket }));
    model = await shellModelTarball(`sleep 8; ${CONSTANT_PREDICTIONS}`);
    cleanup.add("model tarball", () => rm(model, { force: true }));
    await system.startApi();
    await system.startWorker("w1");
  }, 300_000);

  afterAll(() => cleanup.run(), 300_000);

  it("the evaluation is retried after the restart and ends scored, with no container left", async () => {
    const team = await system.createTeam();
    const id = await system.submit(team.token, model);
    await system.waitForModelRunning(id);
    await engine.restart();

    const final = await system.waitForFinal(id, 300_000);
    const story = await system.describe(id);
    expect(final.state, story).toBe("scored");
    expect(final.attempts, story).toBeGreaterThanOrEqual(2);
    expect(await system.taskResults(id), story).toBe(5);
    const timeline = await system.timeline(id);
    expect(timeline.filter((l) => l.startsWith("running")).length, story).toBeGreaterThanOrEqual(2);
    expect(
      timeline.filter((l) => l.startsWith("scored")),
      story,
    ).toHaveLength(1);
    expect(
      await system.explainsRestart(id),
      `the timeline should say why the run started again:\n${story}`,
    ).toBe(true);
    expect(await system.leftovers()).toEqual([]);
  }, 420_000);

  it("an engine that stays down: infrastructure failure after the retries, not charged", async () => {
    const team = await system.createTeam();
    const id = await system.submit(team.token, model);
    await system.waitForModelRunning(id);
    await engine.stop();
    let final;
    try {
      final = await system.waitForFinal(id, 300_000);
    } finally {
      await engine.start();
    }
    const story = await system.describe(id);
    expect(final.state, story).toBe("failed");
    expect(final.failureCategory, story).toBe("infrastructure");
    expect(final.refunded, story).toBe(true);
    expect(await system.taskResults(id)).toBe(0);
    expect((await system.quota(team.token)).usedTotal, story).toBe(0);
    // What the dead engine left is removed once it is back (by the worker, not by this test).
    await system
      .waitFor(
        "the failed run's objects to be removed",
        async () => ((await system.leftovers()).length === 0 ? true : null),
        120_000,
      )
      .catch(async (err: unknown) => {
        throw new Error(`left behind: ${(await system.leftovers()).join(", ")}`, { cause: err });
      });
  }, 420_000);
});
