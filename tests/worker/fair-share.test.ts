import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addEvaluateJob,
  advanceFairClock,
  createQueue,
  createWorker,
  QUEUE_EVALUATE,
  type EvaluateQueue,
} from "@holdout/contracts";
import { TEST_REDIS_URL, uniqueName } from "../support/env.ts";
import { until } from "../support/predictions.ts";

// The evaluate queue's fair share, on the real Redis and BullMQ, taken by a real BullMQ worker one
// job at a time: a competition, or a team, that queued a backlog first does not make another's later
// jobs wait behind all of it; they take turns. Each test has a queue (and so a clock) of its own.
describe("fair shares of the evaluate queue", () => {
  let redis: Redis;
  const queues: EvaluateQueue[] = [];

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    for (const queue of queues) {
      await queue.obliterate({ force: true });
      // The fair share's own keys (clock, live jobs) are not BullMQ's to remove.
      const keys = await redis.keys(`${queue.opts.prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await queue.close();
    }
    await redis?.quit();
  });

  /** A fresh queue, and how to add a team's job to it in its fair turn; returns the job's id. */
  function fairQueue() {
    const queue = createQueue(redis, QUEUE_EVALUATE, { prefix: uniqueName("holdout-test") });
    queues.push(queue);
    const owner = new Map<string, string>();
    const add = async (competitionId: string, teamId: string): Promise<string> => {
      const id = randomUUID();
      owner.set(id, `${competitionId}/${teamId}`);
      await addEvaluateJob(queue, { competitionId, teamId, submissionId: id }, (err) => {
        throw err;
      });
      return id;
    };
    return { queue, add, owner };
  }

  /**
   * Takes `count` jobs with one worker, one at a time, moving the clock as the evaluate processor
   * does when its run starts; `onTaken` runs with the number taken so far, before the job ends.
   * Returns the ids in the order taken.
   */
  async function serve(
    queue: EvaluateQueue,
    count: number,
    onTaken?: (taken: number) => Promise<unknown>,
  ): Promise<string[]> {
    const taken: string[] = [];
    const worker = createWorker(
      redis,
      QUEUE_EVALUATE,
      async (job) => {
        await advanceFairClock(queue, job.opts.priority);
        taken.push(job.data.submissionId);
        await onTaken?.(taken.length);
      },
      { prefix: queue.opts.prefix, concurrency: 1 },
    );
    try {
      await until(
        `${count} jobs to be taken`,
        () => Promise.resolve(taken.length >= count ? true : undefined),
        30_000,
      );
    } finally {
      await worker.close();
    }
    return taken;
  }

  it("serves competitions with work waiting one job each in turn, each in its own arrival order", async () => {
    const { queue, add, owner } = fairQueue();
    const a = [await add("a", "a1"), await add("a", "a1"), await add("a", "a1"), await add("a", "a1")];
    const b = [await add("b", "b1"), await add("b", "b1")];
    // A job added while the queue is served takes its competition's next turn.
    const taken = await serve(queue, 7, async (n) => (n === 1 ? b.push(await add("b", "b1")) : 0));
    expect(taken.map((id) => owner.get(id)?.[0]).join("")).toBe("ababab" + "a");
    expect(taken.filter((id) => owner.get(id)?.startsWith("a"))).toEqual(a);
    expect(taken.filter((id) => owner.get(id)?.startsWith("b"))).toEqual(b);
  });

  it("runs a team's single submission no later than second behind another team's twenty", async () => {
    const { queue, add, owner } = fairQueue();
    const backlog: string[] = [];
    for (let i = 0; i < 20; i++) backlog.push(await add("c", "A"));
    const single = await add("c", "B");
    const taken = await serve(queue, 21);
    expect(taken.indexOf(single)).toBeLessThanOrEqual(1);
    // Team A's own submissions still run in the order it sent them.
    expect(taken.filter((id) => owner.get(id) === "c/A")).toEqual(backlog);
  });

  it("shares runs between a competition of three teams and one of a single team, then among the three", async () => {
    const { queue, add, owner } = fairQueue();
    // Every team has work waiting, then each queues two more.
    for (const team of ["A1", "A2", "A3"]) await add("x", team);
    await add("y", "B");
    for (const team of ["A1", "A2", "A3"]) for (let i = 0; i < 2; i++) await add("x", team);
    for (let i = 0; i < 2; i++) await add("y", "B");
    const taken = (await serve(queue, 12)).map((id) => owner.get(id));
    // The single team's competition is not crowded out by the other's three teams: the two
    // competitions alternate while both have work, and the three teams take turns within theirs.
    expect(taken.map((o) => o?.[0]).join("")).toBe("xyxyxy" + "xxxxxx");
    expect(taken.filter((o) => o?.startsWith("x"))).toEqual([
      "x/A1",
      "x/A2",
      "x/A3",
      "x/A1",
      "x/A2",
      "x/A3",
      "x/A1",
      "x/A2",
      "x/A3",
    ]);
  });

  it("gives a team that comes back after idling no credit beyond the clock", async () => {
    const { queue, add, owner } = fairQueue();
    await add("d", "B");
    for (let i = 0; i < 6; i++) await add("d", "A");
    // Team B ran once at the start, then was idle while A's backlog was served; it comes back with
    // three. Had it saved up the turns it did not use, all three would run before A's next.
    const taken = await serve(queue, 10, async (n) => {
      if (n === 4) for (let i = 0; i < 3; i++) await add("d", "B");
    });
    expect(taken.map((id) => owner.get(id)?.slice(2)).join("")).toBe("BAAA" + "BABABA");
  });

  it("does not hold a team back for the jobs it cancelled", async () => {
    const { queue, add, owner } = fairQueue();
    const mine = [];
    for (let i = 0; i < 10; i++) mine.push(await add("e", "A"));
    // Nine cancelled, as the API does: their jobs removed from the queue.
    for (const id of mine.slice(1)) await queue.remove(id);
    for (let i = 0; i < 3; i++) await add("e", "B");
    await add("e", "A");
    const taken = await serve(queue, 5);
    // A's new job takes the turn after its one live job's, not after the nine it cancelled.
    expect(taken.map((id) => owner.get(id)?.slice(2)).join("")).toBe("ABABB");
  });

  it("puts a re-queued job back in its place, not at the back", async () => {
    const { queue, add, owner } = fairQueue();
    const first = await add("f", "A");
    await add("f", "A");
    await add("f", "B");
    await add("f", "B");
    // As the reconciler does with an orphaned submission: the old job removed, a new one added.
    const before = (await queue.getJob(first))?.opts.priority;
    await queue.remove(first);
    await addEvaluateJob(queue, { competitionId: "f", teamId: "A", submissionId: first }, (err) => {
      throw err;
    });
    expect((await queue.getJob(first))?.opts.priority).toBe(before);
    const taken = await serve(queue, 4);
    expect(taken[0]).toBe(first);
    expect(taken.map((id) => owner.get(id)?.slice(2)).join("")).toBe("ABAB");
  });
});
