import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  advanceFairClock,
  createQueue,
  createWorker,
  evaluateJobOptions,
  fairPriority,
  QUEUE_EVALUATE,
  type EvaluateQueue,
} from "@holdout/contracts";
import { TEST_REDIS_URL, uniqueName } from "../support/env.ts";
import { until } from "../support/predictions.ts";

// The evaluate queue's fair share, on the real Redis and BullMQ: a competition that queued a
// backlog first does not make another one's later jobs wait behind all of it; they take turns.
describe("fair shares of the evaluate queue", () => {
  let redis: Redis;
  let queue: EvaluateQueue;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    queue = createQueue(redis, QUEUE_EVALUATE, { prefix: uniqueName("holdout-test") });
  });
  afterAll(async () => {
    await queue?.obliterate({ force: true });
    await queue?.close();
    await redis?.quit();
  });

  it("serves competitions with work waiting one job each in turn, each in its own arrival order", async () => {
    const owner = new Map<string, string>();
    const add = async (competition: string) => {
      const id = randomUUID();
      owner.set(id, competition);
      const priority = await fairPriority(queue, competition);
      await queue.add(QUEUE_EVALUATE, { submissionId: id }, evaluateJobOptions(id, priority));
      return id;
    };
    const a = [await add("a"), await add("a"), await add("a"), await add("a")];
    const b = [await add("b"), await add("b")];

    const taken: string[] = [];
    const worker = createWorker(
      redis,
      QUEUE_EVALUATE,
      async (job) => {
        // As the evaluate processor does when its run starts.
        await advanceFairClock(queue, job.opts.priority);
        taken.push(job.data.submissionId);
        // A job added while the queue is served takes its competition's next turn.
        if (taken.length === 1) b.push(await add("b"));
      },
      { prefix: queue.opts.prefix, concurrency: 1 },
    );
    try {
      await until(
        "every job to be taken",
        () => Promise.resolve(taken.length === 7 ? true : undefined),
        30_000,
      );
    } finally {
      await worker.close();
    }
    expect(taken.map((id) => owner.get(id)).join("")).toBe("ababab" + "a");
    expect(taken.filter((id) => owner.get(id) === "a")).toEqual(a);
    expect(taken.filter((id) => owner.get(id) === "b")).toEqual(b);
  });
});
