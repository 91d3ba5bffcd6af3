import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labelledObjects, type PrivatePostgres } from "../support/faults.ts";
import { CONSTANT_PREDICTIONS, shellModelTarball } from "../support/images.ts";
import { Cleanup } from "../support/processes.ts";
import { removeSubmissionImage, startIsolated, type System } from "./harness.ts";

// Issue 7: restart PostgreSQL during a run → the run completes or is retried; nothing stays stuck.
describe("PostgreSQL restarted during a run", () => {
  const cleanup = new Cleanup();
  let system: System;
  let postgres: PrivatePostgres;
  let model: string;

  beforeAll(async () => {
    ({ system, postgres } = await startIsolated(cleanup));
    model = await shellModelTarball(`sleep 6; ${CONSTANT_PREDICTIONS}`);
    cleanup.add("model tarball", () => rm(model, { force: true }));
    await system.startApi();
    await system.startWorker("w1");
  }, 300_000);

  afterAll(() => cleanup.run(), 300_000);

  async function expectScored(id: string) {
    const final = await system.waitForFinal(id, 300_000);
    const story = await system.describe(id);
    expect(final.state, story).toBe("scored");
    expect(await system.taskResults(id), story).toBe(5);
    expect(
      (await system.timeline(id)).filter((l) => l.startsWith("scored")),
      story,
    ).toHaveLength(1);
    expect(await system.leftovers()).toEqual([]);
    return story;
  }

  it("a quick restart while the model runs: the evaluation ends scored", async () => {
    const team = await system.createTeam();
    const id = await system.submit(team.token, model);
    cleanup.add("model image", () => removeSubmissionImage(system, id));
    await system.waitForModelRunning(id);
    await postgres.restart("fast");
    await expectScored(id);
    // The API serves again on fresh connections.
    const res = await fetch(`${system.api!.url}/api/v1/submissions/${id}`, {
      headers: { authorization: `Bearer ${team.token}` },
    });
    expect(res.status).toBe(200);
  }, 420_000);

  it("down (as after a crash) until the model has exited: the evaluation is retried and scored", async () => {
    const team = await system.createTeam();
    const id = await system.submit(team.token, model);
    cleanup.add("model image", () => removeSubmissionImage(system, id));
    await system.waitForModelRunning(id);
    await postgres.stop("immediate");
    try {
      // The run ends while its results cannot be written anywhere.
      await system.waitFor(
        "the model's run to end",
        async () =>
          (await labelledObjects(`holdout.submission=${id}`)).containers.length === 0 ? true : null,
        120_000,
      );
    } finally {
      await postgres.start();
    }
    await expectScored(id);
  }, 420_000);
});
