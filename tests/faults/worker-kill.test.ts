import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labelledObjects } from "../support/faults.ts";
import { CONSTANT_PREDICTIONS, shellModelTarball } from "../support/images.ts";
import { Cleanup } from "../support/processes.ts";
import { removeSubmissionImage, startIsolated, submissionImageLeft, type System } from "./harness.ts";

// Issue 7: SIGKILL the worker mid-run → after a restart the submission ends scored, with one set
// of results, a timeline that shows the second run, and nothing of either run left (containers, the
// image and its leases).
describe("a worker killed with SIGKILL mid-run", () => {
  const cleanup = new Cleanup();
  let system: System;
  let model: string;

  beforeAll(async () => {
    ({ system } = await startIsolated(cleanup));
    // Long enough to be caught running, then a valid (constant) answer.
    model = await shellModelTarball(`sleep 8; ${CONSTANT_PREDICTIONS}`);
    cleanup.add("model tarball", () => rm(model, { force: true }));
    await system.startApi();
    await system.startWorker("w1");
  }, 300_000);

  afterAll(() => cleanup.run(), 300_000);

  it("is run again after the restart and ends scored, leaving no container", async () => {
    const team = await system.createTeam();
    const id = await system.submit(team.token, model);
    cleanup.add("model image", () => removeSubmissionImage(system, id));

    await system.waitForModelRunning(id);
    const killed = await system.workers.get("w1")!.stop("SIGKILL");
    expect(killed.signal).toBe("SIGKILL");
    // The crash left the run behind: its model container is still on the engine.
    expect((await labelledObjects(`holdout.submission=${id}`)).containers).not.toEqual([]);

    await system.startWorker("w1");
    const final = await system.waitForFinal(id, 300_000);
    const story = await system.describe(id);
    expect(final.state, story).toBe("scored");
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
    expect((await labelledObjects(`holdout.submission=${id}`)).containers).toEqual([]);
    // The killed worker's hold on the image went with the re-run, and the image with the last one.
    expect(await submissionImageLeft(system, id)).toEqual([]);
  }, 420_000);
});
