import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureCompetition } from "@holdout/db";
import { loadWorkerConfig, startWorker } from "@holdout/worker";
import { uniqueName } from "../support/env.ts";
import { imageId } from "../support/images.ts";
import { startStack, type Stack } from "../support/stack.ts";

const DEFAULT_RUNTIME_IMAGE = "holdout/runtime-python:latest";
const defaultRuntimeBuilt = await imageId(DEFAULT_RUNTIME_IMAGE).then(
  () => true,
  () => false,
);

// A fresh deployment starts its API and workers together (compose, the demo), and the API creates
// the competition: a worker that looks first waits for it instead of exiting as misconfigured.
describe("worker start: what it needs before it takes jobs", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  it("waits for the competition the API creates, then starts", { timeout: 60_000 }, async () => {
    const slug = uniqueName("late-comp");
    const env = stack.workerEnv({ HOLDOUT_COMPETITION: slug, HOLDOUT_COMPETITION_WAIT_SECONDS: "30" });
    const starting = startWorker(loadWorkerConfig(env));
    let started = false;
    void starting.then(() => (started = true)).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(started).toBe(false);
    const createdAt = Date.now();
    await ensureCompetition(stack.db, { slug, name: "Late Competition" });
    const worker = await starting;
    try {
      expect(Date.now() - createdAt).toBeLessThan(10_000);
    } finally {
      await worker.close();
    }
  });

  it(
    "gives up after the wait with an error that names the setting and the slug",
    { timeout: 60_000 },
    async () => {
      const slug = uniqueName("no-such-comp");
      const env = stack.workerEnv({ HOLDOUT_COMPETITION: slug, HOLDOUT_COMPETITION_WAIT_SECONDS: "1" });
      await expect(startWorker(loadWorkerConfig(env))).rejects.toThrow(
        new RegExp(`HOLDOUT_COMPETITION: no competition ${slug} in the database after waiting 1 s`),
      );
    },
  );

  it("refuses to start without the keeper image, and names the setting", { timeout: 60_000 }, async () => {
    const env = stack.workerEnv({ HOLDOUT_KEEPER_IMAGE: "holdout/no-such-keeper:missing" });
    await expect(startWorker(loadWorkerConfig(env))).rejects.toThrow(
      /HOLDOUT_KEEPER_IMAGE: the image holdout\/no-such-keeper:missing is not on the Docker engine/,
    );
  });

  it(
    "refuses to start without a runtime image it was given, naming the setting",
    { timeout: 60_000 },
    async () => {
      const env = stack.workerEnv({ HOLDOUT_RUNTIME_IMAGE: "holdout/no-such-runtime:missing" });
      await expect(startWorker(loadWorkerConfig(env))).rejects.toThrow(
        /HOLDOUT_RUNTIME_IMAGE: the image holdout\/no-such-runtime:missing is not on the Docker engine/,
      );
    },
  );

  // Only where the default runtime image is not built (it is not by default: 2.5 GB).
  it.skipIf(defaultRuntimeBuilt)(
    "starts without the default runtime image when none is named, and warns that bundles will fail",
    { timeout: 60_000 },
    async () => {
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
          done();
        },
      });
      const env = stack.workerEnv();
      delete env.HOLDOUT_RUNTIME_IMAGE;
      const worker = await startWorker(loadWorkerConfig(env), pino({ level: "warn" }, sink));
      await worker.close();
      const warnings = lines.map(
        (l) => JSON.parse(l) as { level: number; msg: string; runtimeImage?: string },
      );
      expect(warnings).toContainEqual(
        expect.objectContaining({
          level: 40,
          runtimeImage: DEFAULT_RUNTIME_IMAGE,
          msg: expect.stringMatching(
            /^HOLDOUT_RUNTIME_IMAGE is not on the Docker engine: code bundles will fail/,
          ) as unknown,
        }),
      );
    },
  );
});
