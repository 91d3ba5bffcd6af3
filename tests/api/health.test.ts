import { createServer } from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "@holdout/api";
import { createQueue, QUEUE_EVALUATE } from "@holdout/contracts";
import { createDb, ensureCompetition, type Db } from "@holdout/db";
import { connectDocker } from "@holdout/sandbox";
import { createWorkerMetrics } from "../../apps/worker/src/runtime/metrics.ts";
import { startOpsServer, type OpsServer } from "../../apps/worker/src/runtime/ops-server.ts";
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from "../support/env.ts";
import { startStack, type Stack } from "../support/stack.ts";

// Liveness and readiness as a load balancer or Compose sees them: ready only when every dependency
// answers, and a clear problem+json naming the one that does not.

/** A loopback port with nothing listening on it: connections are refused at once. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A Redis client that fails at once instead of queueing commands while it reconnects. */
async function unreachableRedis(): Promise<Redis> {
  const redis = new Redis(`redis://127.0.0.1:${await deadPort()}`, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // Refused connections are what these tests are about; /readyz is what must report them.
  redis.on("error", () => undefined);
  return redis;
}

interface Problem {
  status: number;
  code: string;
  detail: string;
}

describe("API /healthz and /readyz", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  it("is alive and ready when PostgreSQL and Redis answer", async () => {
    const live = await fetch(`${stack.url}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: "ok" });
    const ready = await fetch(`${stack.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", checks: { postgres: "ok", redis: "ok" } });
  });

  it("answers 503 problem+json naming Redis, or PostgreSQL, when it is down; /healthz stays up", async () => {
    const goodDb = createDb(TEST_DATABASE_URL, { poolSize: 1 });
    const competition = await ensureCompetition(goodDb, { slug: uniqueName("comp"), name: "Health" });
    const cases: { name: string; db: Db; redis: Redis }[] = [
      { name: "redis", db: goodDb, redis: await unreachableRedis() },
      {
        name: "postgres",
        db: createDb(`postgresql://holdout:holdout@127.0.0.1:${await deadPort()}/holdout`, { poolSize: 1 }),
        redis: new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 }),
      },
    ];
    for (const c of cases) {
      const queue = createQueue(c.redis, QUEUE_EVALUATE, { prefix: uniqueName("t") });
      queue.on("error", () => undefined); // the same refused connection, seen by BullMQ
      const app = await buildApp({
        db: c.db,
        redis: c.redis,
        queue,
        competition,
        dataDir: "/nonexistent",
        maxUploadBytes: 1024,
      });
      try {
        const res = await app.inject({ url: "/readyz" });
        expect(res.statusCode).toBe(503);
        expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
        const problem = res.json<Problem>();
        expect(problem.code).toBe("HOLDOUT_ERR_NOT_READY");
        expect(problem.detail).toBe(`not ready: ${c.name} unreachable`);
        expect((await app.inject({ url: "/healthz" })).statusCode).toBe(200);
      } finally {
        await app.close();
        c.redis.disconnect();
        if (c.db !== goodDb) await c.db.$disconnect();
      }
    }
    await goodDb.$disconnect();
  });
});

describe("worker ops server", () => {
  let db: Db;
  let redis: Redis;
  let ops: OpsServer | undefined;
  beforeAll(() => {
    db = createDb(TEST_DATABASE_URL, { poolSize: 1 });
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    await ops?.close();
    redis.disconnect();
    await db.$disconnect();
  });

  it("serves /healthz, /readyz (PostgreSQL, Redis, Docker) and /metrics", async () => {
    const metrics = createWorkerMetrics();
    metrics.runFinished({ phase: "hidden", outcome: "ok", seconds: 12 });
    ops = await startOpsServer({ port: 0, host: "127.0.0.1", db, redis, docker: connectDocker(), metrics });
    expect(await (await fetch(`${ops.url}/healthz`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`${ops.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: "ready",
      checks: { postgres: "ok", redis: "ok", docker: "ok" },
    });
    const text = await (await fetch(`${ops.url}/metrics`)).text();
    expect(text).toContain('holdout_worker_runs_total{phase="hidden",outcome="ok"} 1');
    const missing = await fetch(`${ops.url}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as Problem).code).toBe("HOLDOUT_ERR_ROUTE_NOT_FOUND");
    const post = await fetch(`${ops.url}/metrics`, { method: "POST" });
    expect(post.status).toBe(405);
    await ops.close();
    ops = undefined;
  });

  it("is not ready, naming the Docker engine, when its socket does not answer", async () => {
    const docker = connectDocker({ socketPath: `/tmp/${uniqueName("no-docker")}.sock` });
    ops = await startOpsServer({
      port: 0,
      host: "127.0.0.1",
      db,
      redis,
      docker,
      metrics: createWorkerMetrics(),
    });
    const res = await fetch(`${ops.url}/readyz`);
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await res.json()) as Problem;
    expect(problem).toMatchObject({
      status: 503,
      code: "HOLDOUT_ERR_NOT_READY",
      detail: "not ready: docker unreachable",
    });
    expect((await fetch(`${ops.url}/healthz`)).status).toBe(200);
  });

  it("is not ready when Redis does not answer", async () => {
    const dead = await unreachableRedis();
    await ops?.close();
    ops = await startOpsServer({
      port: 0,
      host: "127.0.0.1",
      db,
      redis: dead,
      docker: connectDocker(),
      metrics: createWorkerMetrics(),
    });
    const res = await fetch(`${ops.url}/readyz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as Problem).detail).toBe("not ready: redis unreachable");
    dead.disconnect();
  });
});
