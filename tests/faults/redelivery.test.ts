import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSTANT_PREDICTIONS, tinyShellModelTarball } from "../support/images.ts";
import { Cleanup } from "../support/processes.ts";
import { removeSubmissionImage, startIsolated, type System } from "./harness.ts";

// Issue 16: a worker starved of CPU misses the renewal of its job's lock; BullMQ's stalled check then
// gives the job to another worker while the first still runs the model. SIGSTOP is that starvation
// made certain: the process gets no CPU at all for longer than its lock. The evaluation is fenced by
// its lease in PostgreSQL, so the second worker must not start it again, and must say why.
describe("a job handed to a second worker while its run is alive", () => {
  const cleanup = new Cleanup();
  let system: System;
  let model: string;
  // A short job lock (renewed every 0.5 to 1 s) and a lease that stays live while the holder is stopped.
  const env = {
    HOLDOUT_JOB_LOCK_SECONDS: "2",
    HOLDOUT_HEARTBEAT_SECONDS: "1",
    HOLDOUT_HEARTBEAT_STALE_SECONDS: "60",
  };

  beforeAll(async () => {
    ({ system } = await startIsolated(cleanup));
    model = await tinyShellModelTarball(`sleep 15; ${CONSTANT_PREDICTIONS}`);
    cleanup.add("model tarball", () => rm(model, { force: true }));
    await system.startApi();
    await system.startWorker("a", env);
    await system.startWorker("b", env);
  }, 300_000);

  afterAll(() => cleanup.run(), 300_000);

  it("the second worker does not start it, and the first scores it once", async () => {
    const team = await system.createTeam();
    const id = await system.submit(team.token, model);
    cleanup.add("model image", () => removeSubmissionImage(system, id));
    await system.waitForModelRunning(id);
    const row = await system.db.submission.findUniqueOrThrow({ where: { id } });
    const holder = system.workerName("a") === row.worker ? "a" : "b";
    const holderProc = system.workers.get(holder)!;
    const otherProc = system.workers.get(holder === "a" ? "b" : "a")!;

    process.kill(holderProc.pid, "SIGSTOP");
    try {
      // The lock expires 2 s into the stop; the other worker's stalled check (every second) moves
      // the job back to the wait list, and that worker, idle, takes it.
      const line = await otherProc.waitForLine(
        new RegExp(`"submissionId":"${id}".*"msg":"(evaluation started|not starting[^"]*)"`),
        45_000,
      );
      expect(line, "the second worker must not start a run the first still holds").toMatch(/not starting/);
    } finally {
      process.kill(holderProc.pid, "SIGCONT");
    }

    const final = await system.waitForFinal(id, 180_000);
    const story = await system.describe(id);
    expect(final.state, story).toBe("scored");
    expect(final.attempts, story).toBe(1);
    const timeline = await system.timeline(id);
    expect(
      timeline.filter((l) => l.endsWith("evaluation started")),
      story,
    ).toEqual([`running [${system.workerName(holder)}]: evaluation started`]);
    expect(
      timeline.filter((l) => l.startsWith("scored")),
      story,
    ).toHaveLength(1);
    expect(await system.taskResults(id), story).toBe(5);
    // The second worker names who holds the run, and until when it will wait.
    expect(otherProc.output()).toMatch(
      new RegExp(`"holder":"${system.workerName(holder)}".*"msg":"not starting`),
    );
    expect(await system.leftovers()).toEqual([]);
  }, 420_000);
});
