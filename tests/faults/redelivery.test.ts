import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSTANT_PREDICTIONS, tinyShellModelTarball } from "../support/images.ts";
import { Cleanup } from "../support/processes.ts";
import { removeSubmissionImage, startIsolated, type System } from "./harness.ts";

// Issue 16: a worker starved of CPU misses the renewal of its job's lock; BullMQ's stalled check then
// gives the job to another worker while the first still runs the model. SIGSTOP is that starvation
// made certain: the process gets no CPU at all for longer than its lock. The evaluation is fenced by
// its lease in PostgreSQL, so the second worker must not start it again, and must say why; only a
// worker silent for longer than the lease itself is taken over, and its run can then write nothing.
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
    const { holder, holderProc, otherProc } = await whoRuns(id, ["a", "b"]);

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

  it("a worker frozen past its lease is taken over, and its run stops without writing anything", async () => {
    // Two workers whose runs' leases lapse after 6 s without a heartbeat, alone on the queue.
    for (const name of ["a", "b"]) await system.workers.get(name)!.stop("SIGTERM", 60_000);
    const shortLease = { ...env, HOLDOUT_HEARTBEAT_STALE_SECONDS: "6" };
    await system.startWorker("c", shortLease);
    await system.startWorker("d", shortLease);
    const team = await system.createTeam();
    const id = await system.submit(team.token, model);
    cleanup.add("second model image", () => removeSubmissionImage(system, id));
    await system.waitForModelRunning(id);
    const { holder, other, holderProc } = await whoRuns(id, ["c", "d"]);
    const taken = `running [${system.workerName(other)}]: evaluation started`;

    process.kill(holderProc.pid, "SIGSTOP");
    try {
      // The other worker's job waits for the lease, then takes the run over once it has lapsed.
      await system.waitFor(
        "the other worker to take the run over",
        async () => ((await system.timeline(id)).includes(taken) ? true : null),
        120_000,
      );
    } finally {
      process.kill(holderProc.pid, "SIGCONT");
    }
    // Thawed, the first run learns that its lease is gone (at its next beat, or from a refused
    // write) and stops.
    await holderProc.waitForLine(
      new RegExp(`"submissionId":"${id}".*"msg":"run stopped: it no longer holds the submission's lease`),
      60_000,
    );

    const final = await system.waitForFinal(id, 180_000);
    const story = await system.describe(id);
    expect(final.state, story).toBe("scored");
    expect(final.attempts, story).toBe(2);
    const timeline = await system.timeline(id);
    expect(
      timeline.filter((l) => l.endsWith("evaluation started")),
      story,
    ).toEqual([`running [${system.workerName(holder)}]: evaluation started`, taken]);
    // From the takeover on, the timeline is the second run's alone: one score, and nothing of the first.
    const after = timeline.slice(timeline.indexOf(taken));
    expect(
      after.filter((l) => l.includes(`[${system.workerName(holder)}]`)),
      story,
    ).toEqual([]);
    expect(
      timeline.filter((l) => l.startsWith("scored") || l.startsWith("failed")),
      story,
    ).toEqual([expect.stringMatching(new RegExp(`^scored \\[${system.workerName(other)}\\]`))]);
    expect(await system.taskResults(id), story).toBe(5);
    expect(await system.leftovers()).toEqual([]);
  }, 420_000);

  /** Which of two workers runs the submission now (by its row), and the other. */
  async function whoRuns(id: string, names: [string, string]) {
    const row = await system.db.submission.findUniqueOrThrow({ where: { id } });
    const [holder, other] = system.workerName(names[0]) === row.worker ? names : [names[1], names[0]];
    return {
      holder,
      other,
      holderProc: system.workers.get(holder)!,
      otherProc: system.workers.get(other)!,
    };
  }
});
