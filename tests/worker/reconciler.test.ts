import { randomUUID } from "node:crypto";
import { Worker } from "bullmq";
import Docker from "dockerode";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUEUE_EVALUATE, evaluateJobOptions } from "@holdout/contracts";
import { currentPhaseAt, listSubmissionEvents } from "@holdout/db";
import { BASE_IMAGE, TEST_REDIS_URL, uniqueName } from "../support/env.ts";
import { CONSTANT_PREDICTIONS, leaseTagsOf, shellModelTarball } from "../support/images.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

// Postgres is the truth: whatever Redis lost or a dead worker left, every queued or running
// submission reaches a final state. Rows are put in the states a crash leaves (seeding the
// database and deleting Redis keys); then a worker with a fast reconciler starts.
describe("the reconciler", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({
      quota: { perDay: 50, total: 50 },
      workerEnv: {
        HOLDOUT_HEARTBEAT_SECONDS: "1",
        HOLDOUT_HEARTBEAT_STALE_SECONDS: "3",
        HOLDOUT_RECONCILE_INTERVAL_SECONDS: "1",
        HOLDOUT_RECONCILE_MAX_REQUEUES: "2",
      },
    });
  });
  afterAll(() => stack?.close());

  it(
    "re-queues a received row never queued, a queued row without a job and a running row of a dead worker; fails one re-queued too often",
    { timeout: 400_000 },
    async () => {
      const { token } = await stack.createTeam();
      const file = await shellModelTarball(CONSTANT_PREDICTIONS);
      const upload = async () => {
        const { status, body } = await uploadImage(stack.url, token, file, { model: uniqueName("orphan") });
        expect(status).toBe(202);
        return body.id;
      };
      const [lost, dead, doomed, stranded] = [await upload(), await upload(), await upload(), await upload()];
      // Redis lost everything (no worker has run yet)...
      await stack.queue.obliterate({ force: true });
      // ...except a completed job under `dead`'s id, as a worker that finished the job but died before
      // writing the result would leave: a plain add with that id would be silently ignored.
      const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
      await stack.queue.add(QUEUE_EVALUATE, { submissionId: dead }, evaluateJobOptions(dead));
      const drain = new Worker(QUEUE_EVALUATE, () => Promise.resolve(), {
        connection: redis,
        prefix: stack.prefix,
      });
      for (;;) {
        if ((await (await stack.queue.getJob(dead))?.getState()) === "completed") break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await drain.close();
      await redis.quit();
      // `dead` and `doomed` were running on a worker that stopped beating ten minutes ago.
      const longAgo = new Date(Date.now() - 10 * 60_000);
      for (const id of [dead, doomed]) {
        await stack.db.submission.update({
          where: { id },
          data: { state: "running", worker: "crashed-worker", heartbeatAt: longAgo, startedAt: longAgo },
        });
      }
      // `stranded` was recorded a minute ago by an API that died before queueing it.
      await stack.db.submission.update({
        where: { id: stranded },
        data: { state: "received", queuedAt: null, createdAt: new Date(Date.now() - 60_000) },
      });
      // `doomed` was re-queued twice already (the limit here).
      for (let i = 0; i < 2; i++) {
        await stack.db.submissionEvent.create({
          data: { submissionId: doomed, state: "queued", detail: "re-queued by the reconciler: earlier" },
        });
      }

      const worker = await stack.startWorker();
      try {
        for (const id of [lost, dead, stranded]) {
          const final = await waitForFinal(stack.url, token, id, 240_000);
          expect(final.state).toBe("scored");
        }
        const why = async (id: string) =>
          (await listSubmissionEvents(stack.db, id))
            .map((e) => e.detail ?? "")
            .filter((d) => d.startsWith("re-queued"));
        expect(await why(lost)).toEqual(["re-queued by the reconciler: its job was missing from the queue"]);
        expect(await why(stranded)).toEqual([
          "re-queued by the reconciler: it was received but never queued",
        ]);
        expect(await why(dead)).toEqual([
          "re-queued by the reconciler: worker crashed-worker stopped sending heartbeats during the run",
        ]);
        const final = await waitForFinal(stack.url, token, doomed, 60_000);
        expect(final.state).toBe("failed");
        expect(final.failure?.category).toBe("infrastructure");
        expect(final).toMatchObject({ refunded: true });
      } finally {
        await worker.close();
      }
    },
  );

  it(
    "releases the image leases of ended submissions and expired ones, never another deployment's live lease",
    { timeout: 120_000 },
    async () => {
      const team = await stack.createTeam();
      const phase = await currentPhaseAt(stack.db, stack.competition.id, new Date());
      const row = (state: "failed" | "received") =>
        stack.db.submission.create({
          data: {
            id: randomUUID(),
            competitionId: stack.competition.id,
            phaseId: phase.id,
            teamId: team.id,
            modelName: uniqueName("leased"),
            uploadSize: 1n,
            uploadSha256: "0".repeat(64),
            state,
          },
        });
      const ended = (await row("failed")).id;
      const open = (await row("received")).id; // just recorded: the reconciler leaves it for 30 s
      const vanished = randomUUID();
      // A submission of another deployment sharing the engine (another database): its lease, live
      // for another hour, is none of this worker's business. Issue 16: every worker released it.
      const foreign = randomUUID();
      // Leases as a worker that died would leave them (on our base image: releasing only untags):
      // `live` ends in an hour, `left` names no end (as a lease past its end). The open submission's
      // is live, as its run's would be: other deployments' workers on this engine leave it alone too.
      const live = `${Date.now() + 3600_000}-0123456789abcdef`;
      const docker = new Docker();
      const leases = {
        [ended]: live,
        [open]: live,
        [vanished]: "left",
        "not-a-submission": "left",
        [foreign]: live,
      };
      for (const [owner, tag] of Object.entries(leases)) {
        await docker.getImage(BASE_IMAGE).tag({ repo: `holdout-lease/${owner}`, tag });
      }
      const worker = await stack.startWorker();
      try {
        for (let waited = 0; (await leaseTagsOf(ended)).length > 0 && waited < 60_000; waited += 250) {
          await new Promise((r) => setTimeout(r, 250));
        }
        expect(await leaseTagsOf(ended)).toEqual([]);
        expect(await leaseTagsOf(vanished)).toEqual([]);
        expect(await leaseTagsOf(open)).toEqual([`holdout-lease/${open}:${live}`]);
        expect(await leaseTagsOf("not-a-submission")).toEqual(["holdout-lease/not-a-submission:left"]);
        expect(await leaseTagsOf(foreign)).toEqual([`holdout-lease/${foreign}:${live}`]);
        expect((await docker.getImage(BASE_IMAGE).inspect()).RepoTags).toContain(BASE_IMAGE);
      } finally {
        await worker.close();
        for (const ref of [
          `holdout-lease/${open}:${live}`,
          "holdout-lease/not-a-submission:left",
          `holdout-lease/${foreign}:${live}`,
        ]) {
          await docker
            .getImage(ref)
            .remove()
            .catch(() => undefined);
        }
      }
    },
  );
});
