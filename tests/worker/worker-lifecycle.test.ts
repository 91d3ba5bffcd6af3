import { spawn } from "node:child_process";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listSubmissionEvents } from "@holdout/db";
import { REPO_ROOT, uniqueName } from "../support/env.ts";
import { CONSTANT_PREDICTIONS, imageId, leaseTagsOf, shellModelTarball } from "../support/images.ts";
import { until } from "../support/predictions.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

const run = promisify(execFile);

const containersOf = async (id: string) =>
  (await run("docker", ["ps", "-aq", "--filter", `label=holdout.submission=${id}`])).stdout.trim();

// The worker's life cycle as teams and operators meet it: a cancel stops a running model within a
// heartbeat, SIGTERM hands the running job back to the queue for another worker, and two workers
// share one queue without running anything twice.
describe("worker life cycle", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({
      quota: { perDay: 50, total: 50 },
      workerEnv: { HOLDOUT_HEARTBEAT_SECONDS: "1" },
    });
  });
  afterAll(() => stack?.close());

  const hasEvent = (id: string, prefix: string) => async () =>
    (await listSubmissionEvents(stack.db, id)).some((e) => e.detail?.startsWith(prefix)) ? true : undefined;

  it(
    "cancelling a running sleeper stops it within seconds and leaves nothing behind",
    { timeout: 180_000 },
    async () => {
      const worker = await stack.startWorker();
      try {
        const { token } = await stack.createTeam();
        const file = await shellModelTarball("exec sleep 600");
        const { body } = await uploadImage(stack.url, token, file, { model: uniqueName("sleeper") });
        await until("the smoke run to start", hasEvent(body.id, "smoke run started"));
        await until("its container", async () => ((await containersOf(body.id)) ? true : undefined));
        const res = await fetch(`${stack.url}/api/v1/submissions/${body.id}/cancel`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
        });
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({ outcome: "stopping" });
        const final = await waitForFinal(stack.url, token, body.id, 30_000);
        expect(final.state).toBe("cancelled");
        const events = await listSubmissionEvents(stack.db, body.id);
        expect(events.at(-1)).toMatchObject({ state: "cancelled", detail: "cancelled by the team" });
        expect(await containersOf(body.id)).toBe("");
      } finally {
        await worker.close();
      }
    },
  );

  it(
    "SIGTERM mid-run: the worker exits 0, the job goes back to the queue, another worker finishes it",
    { timeout: 400_000 },
    async () => {
      const { token } = await stack.createTeam();
      // Quick on the smoke sample, slow on the hidden set: SIGTERM lands in the hidden run.
      const file = await shellModelTarball(
        `if [ "$(wc -l < "$0")" -gt 100 ]; then sleep 20; fi; ${CONSTANT_PREDICTIONS}`,
      );
      const { body } = await uploadImage(stack.url, token, file, { model: uniqueName("slow") });
      const env = stack.workerEnv({ HOLDOUT_WORKER_NAME: `${stack.prefix}-doomed`, LOG_LEVEL: "info" });
      const child = spawn(process.execPath, ["--import", "tsx", "apps/worker/src/main.ts"], {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (d: Buffer) => (output += d.toString()));
      child.stderr.on("data", (d: Buffer) => (output += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      try {
        await until("the hidden run to start", hasEvent(body.id, "hidden run started"), 180_000);
        await until("its container", async () => ((await containersOf(body.id)) ? true : undefined));
        child.kill("SIGTERM");
        expect(await exited, output).toBe(0);
      } finally {
        child.kill("SIGKILL");
      }
      const row = await stack.db.submission.findUniqueOrThrow({ where: { id: body.id } });
      expect(row.state).toBe("queued");
      const events = await listSubmissionEvents(stack.db, body.id);
      expect(events.at(-1)?.detail).toMatch(/^handed back to the queue: worker .*-doomed is shutting down/);
      expect(await containersOf(body.id)).toBe("");
      const job = await stack.queue.getJob(body.id);
      expect(await job?.getState()).toBe("prioritized"); // back in the queue, with its fair-share turn
      expect(job?.attemptsMade).toBe(0); // handing back does not use up an attempt

      const second = await stack.startWorker({ HOLDOUT_WORKER_NAME: `${stack.prefix}-second` });
      try {
        const final = await waitForFinal(stack.url, token, body.id, 180_000);
        expect(final.state).toBe("scored");
        const scored = (await listSubmissionEvents(stack.db, body.id)).filter((e) => e.state === "scored");
        expect(scored.map((e) => e.worker)).toEqual([`${stack.prefix}-second`]);
      } finally {
        await second.close();
      }
    },
  );

  it(
    "two workers share one queue: every submission is scored exactly once",
    { timeout: 400_000 },
    async () => {
      const workers = [
        await stack.startWorker({ HOLDOUT_WORKER_NAME: `${stack.prefix}-a` }),
        await stack.startWorker({ HOLDOUT_WORKER_NAME: `${stack.prefix}-b` }),
      ];
      try {
        const { token } = await stack.createTeam();
        const file = await shellModelTarball(`sleep 2; ${CONSTANT_PREDICTIONS}`);
        const ids: string[] = [];
        for (let i = 0; i < 4; i++) {
          const { status, body } = await uploadImage(stack.url, token, file, { model: uniqueName("shared") });
          expect(status).toBe(202);
          ids.push(body.id);
        }
        const ran = new Set<string>();
        for (const id of ids) {
          expect((await waitForFinal(stack.url, token, id, 240_000)).state).toBe("scored");
          const events = await listSubmissionEvents(stack.db, id);
          const started = events.filter((e) => e.detail === "evaluation started");
          expect(started).toHaveLength(1);
          expect(events.filter((e) => e.state === "scored")).toHaveLength(1);
          ran.add(started[0]?.worker ?? "");
          expect(await stack.db.taskResult.count({ where: { submissionId: id } })).toBe(5);
        }
        expect([...ran].sort()).toEqual([`${stack.prefix}-a`, `${stack.prefix}-b`]);
        // All four ran the same image, loaded by both workers: it left with the last lease, and no
        // lease is left behind.
        const rows = await stack.db.submission.findMany({ where: { id: { in: ids } } });
        const digests = [...new Set(rows.map((r) => r.imageDigest))];
        expect(digests).toHaveLength(1);
        await expect(imageId(digests[0]!)).rejects.toThrow(/No such image/);
        for (const id of ids) expect(await leaseTagsOf(id)).toEqual([]);
      } finally {
        await Promise.all(workers.map((w) => w.close()));
      }
    },
  );
});
