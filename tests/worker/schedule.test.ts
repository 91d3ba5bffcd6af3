import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { QUEUE_LEADER_TIES } from "@holdout/contracts";
import { createCompetition, listAudit, SCHEDULE_ACTOR, showCompetition, type PhaseSpec } from "@holdout/db";
import { closeOnSchedule } from "../../apps/worker/src/runtime/schedule.ts";
import { createLogger } from "../../apps/worker/src/logger.ts";
import { TEST_REDIS_URL, TEST_TESTSET_DIR, uniqueName } from "../support/env.ts";
import { until } from "../support/predictions.ts";
import { startStack, type Stack } from "../support/stack.ts";

// A competition closes when its last phase ends, by the workers' schedule, as an organizer's closing
// would: as of that end, by the schedule's actor in the audit log, and with a split the final
// board's tie marks asked for. Each worker here serves only this file's competitions, so other test
// files' competitions with ended phases in the shared database are left alone.

const HOUR = 3600_000;
const hidden = (p: Pick<PhaseSpec, "name" | "startsAt" | "endsAt">): PhaseSpec => ({
  data: "hidden",
  feedback: "released",
  ranked: true,
  ...p,
});

describe("closing on schedule", () => {
  let stack: Stack;
  const competition = (phases: PhaseSpec[]) =>
    createCompetition(
      stack.db,
      { actor: "test" },
      {
        slug: uniqueName("sched"),
        name: "Scheduled",
        testsetDir: TEST_TESTSET_DIR,
        testsetSha256: "a".repeat(64),
        phases,
      },
    );

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  it("a worker closes a competition whose last phase ended, as of that end; one still open stays open", async () => {
    const end = new Date(Date.now() - HOUR);
    const ended = await competition([
      hidden({ name: "Test", startsAt: new Date(Date.now() - 2 * HOUR), endsAt: end }),
    ]);
    const running = await competition([
      hidden({ name: "Test", startsAt: end, endsAt: new Date(Date.now() + HOUR) }),
    ]);
    await stack.startWorker({
      HOLDOUT_CLOSE_ENDED_COMPETITIONS: "true",
      HOLDOUT_WORKER_COMPETITIONS: `${ended.slug},${running.slug}`,
      HOLDOUT_RECONCILE_INTERVAL_SECONDS: "1",
    });
    const closed = await until("the ended competition to close", async () => {
      const c = await showCompetition(stack.db, ended.slug);
      return c?.state === "closed" ? c : undefined;
    });
    expect(closed).toMatchObject({ closedAt: end, closedBy: SCHEDULE_ACTOR, status: "closed" });
    const [audit] = await listAudit(stack.db, ended.id, { limit: 1 });
    expect(audit).toMatchObject({ action: "competition.close", actor: SCHEDULE_ACTOR });
    expect((await showCompetition(stack.db, running.slug))?.state).toBe("open");
  });

  it("with a split, the final board's tie marks are asked for", async () => {
    const end = new Date(Date.now() - HOUR);
    const c = await competition([
      hidden({ name: "Test", startsAt: new Date(Date.now() - 2 * HOUR), endsAt: end }),
    ]);
    await stack.db.competition.update({ where: { id: c.id }, data: { splitFraction: 0.5, splitSeed: 7 } });
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    // A queue no worker reads (the first test's worker reads the stack's): the job stays to be seen.
    const ties = new Queue(QUEUE_LEADER_TIES, { connection: redis, prefix: uniqueName("sched-ties") });
    try {
      const log = createLogger("error");
      expect(await closeOnSchedule({ db: stack.db, tiesQueue: ties, log, only: [c.slug] })).toEqual([c.slug]);
      const jobs = await ties.getJobs(["waiting", "prioritized", "delayed"]);
      expect(jobs.map((j) => (j.data as { competitionId: string }).competitionId)).toContain(c.id);
      // Closed once: the next pass finds nothing to close.
      expect(await closeOnSchedule({ db: stack.db, tiesQueue: ties, log, only: [c.slug] })).toEqual([]);
    } finally {
      await ties.obliterate({ force: true });
      await ties.close();
      await redis.quit();
    }
  });
});
