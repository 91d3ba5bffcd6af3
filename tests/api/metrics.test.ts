import { spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "@holdout/api";
import { createQueue, QUEUE_EVALUATE } from "@holdout/contracts";
import { createDb, ensureCompetition, createTeamWithToken, currentPhaseAt } from "@holdout/db";
import { createWorkerMetrics } from "../../apps/worker/src/runtime/metrics.ts";
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from "../support/env.ts";
import { tarBuffer } from "../support/images.ts";
import { startStack, type Stack } from "../support/stack.ts";
import { patchThenBreak, settledOffset } from "../support/uploads.ts";

// Observability as an operator sees it: what /metrics says after real requests and real rows, the
// request id echoed and logged, the submission id on the log lines about a submission.

/** One sample's value from a Prometheus text exposition, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const x of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have.set(x[1] ?? "", x[2] ?? "");
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(m[3]);
  }
  return undefined;
}

async function tarOf(bytes: number): Promise<Blob> {
  return new Blob([await tarBuffer({ "manifest.json": "[]", "layer.bin": randomBytes(bytes) })]);
}

/**
 * Prometheus's own checker of the text format and its naming rules (Debian's `prometheus` package,
 * which scripts/setup.sh installs): its complaints, or "" when it has none.
 */
function promtoolComplaints(text: string): string {
  const run = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  if (run.error)
    throw new Error("promtool is missing: scripts/setup.sh installs Debian's prometheus package");
  return `${run.stdout}${run.stderr}`.trim();
}

describe("API /metrics", () => {
  let stack: Stack;
  let token: string;
  let teamId: string;

  beforeAll(async () => {
    stack = await startStack();
    ({ token, id: teamId } = await stack.createTeam());
    // Finished runs as workers leave them: two scored (3 s and 45 s), a timeout, a cancellation.
    const base = Date.now() - 3600_000;
    const rows = [
      { state: "scored", seconds: 3 },
      { state: "scored", seconds: 45 },
      { state: "failed", seconds: 700, failureCategory: "timeout" },
      { state: "cancelled", seconds: 2 },
    ] as const;
    const phase = await currentPhaseAt(stack.db, stack.competition.id, new Date());
    for (const r of rows) {
      await stack.db.submission.create({
        data: {
          id: randomUUID(),
          competitionId: stack.competition.id,
          phaseId: phase.id,
          teamId,
          modelName: "seeded",
          uploadSize: 1n,
          uploadSha256: "0".repeat(64),
          state: r.state,
          ...("failureCategory" in r ? { failureCategory: r.failureCategory } : {}),
          startedAt: new Date(base),
          finishedAt: new Date(base + r.seconds * 1000),
        },
      });
    }
  });
  afterAll(() => stack?.close());

  const scrape = async () => {
    const res = await fetch(`${stack.opsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  it("counts uploaded bytes, request latency by route, queue depth and runs from PostgreSQL", async () => {
    const fd = new FormData();
    fd.append("model", "metrics probe");
    fd.append("image", await tarOf(3 * 1024 * 1024), "model.tar");
    // The exact bytes a client sends: the multipart body, framing included.
    const request = new Request("http://localhost/", { method: "POST", body: fd });
    const body = Buffer.from(await request.arrayBuffer());
    const upload = await fetch(`${stack.url}/api/v1/submissions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": request.headers.get("content-type")! },
      body,
    });
    expect(upload.status).toBe(202);
    expect((await fetch(`${stack.url}/no/such/route`)).status).toBe(404);

    const text = await scrape();
    // The body's bytes, not one more (headers are not uploads) and not one less. (The first test
    // here: the database figures are cached 10 s, so no scrape may come before this upload.)
    expect(sample(text, "holdout_uploaded_bytes_total", { route: "/api/v1/submissions" })).toBe(body.length);
    const route = { method: "POST", route: "/api/v1/submissions", status_code: "202" };
    expect(sample(text, "holdout_http_request_duration_seconds_count", route)).toBe(1);
    expect(
      sample(text, "holdout_http_request_duration_seconds_count", {
        route: "(unmatched)",
        status_code: "404",
      }),
    ).toBe(1);

    // Queued with its competition's turn in the fair share: a BullMQ priority.
    expect(sample(text, "holdout_queue_jobs", { queue: QUEUE_EVALUATE, state: "prioritized" })).toBe(1);
    expect(sample(text, "holdout_submissions", { state: "queued" })).toBe(1);
    expect(sample(text, "holdout_submissions", { state: "scored" })).toBe(2);
    expect(sample(text, "holdout_runs_total", { outcome: "scored" })).toBe(2);
    expect(sample(text, "holdout_runs_total", { outcome: "timeout" })).toBe(1);
    expect(sample(text, "holdout_runs_total", { outcome: "cancelled" })).toBe(1);
    const scored = (le: string) =>
      sample(text, "holdout_run_duration_seconds_bucket", { state: "scored", le });
    expect([scored("1"), scored("5"), scored("30"), scored("60"), scored("+Inf")]).toEqual([0, 1, 1, 2, 2]);
    expect(sample(text, "holdout_run_duration_seconds_sum", { state: "scored" })).toBeCloseTo(48, 3);
    expect(sample(text, "holdout_run_duration_seconds_bucket", { state: "failed", le: "600" })).toBe(0);
    expect(sample(text, "holdout_run_duration_seconds_count", { state: "failed" })).toBe(1);
  });

  it("is served on the ops listener only, and passes promtool", async () => {
    const pub = await fetch(`${stack.url}/metrics`);
    expect(pub.status).toBe(404);
    expect(((await pub.json()) as { code: string }).code).toBe("HOLDOUT_ERR_ROUTE_NOT_FOUND");
    const text = await scrape();
    expect(promtoolComplaints(text)).toBe("");
    // The process gauges come along, under names promtool accepts (the *_total gauges are gone).
    expect(sample(text, "process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(text).toContain("nodejs_active_handles{");
    expect(text).not.toMatch(/^nodejs_active_\w+_total/m);
    // Every state, those with no submission as 0 (no vanishing series).
    for (const state of ["received", "running", "scoring"]) {
      expect(sample(text, "holdout_submissions", { state }), state).toBe(0);
    }
    expect(sample(text, "holdout_runs_total", { outcome: "out_of_memory" })).toBe(0);
    expect((await fetch(`${stack.opsUrl}/readyz`)).status).toBe(200);
  });

  it("counts the bytes of a resumable chunk broken off mid-way that the server kept", async () => {
    const route = { route: "/api/v1/uploads/:id" };
    const before = sample(await scrape(), "holdout_uploaded_bytes_total", route) ?? 0;
    const created = await fetch(`${stack.url}/api/v1/uploads`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "tus-resumable": "1.0.0",
        "upload-length": String(8 * 1024 * 1024),
        "upload-metadata": `model ${Buffer.from("broken").toString("base64")}`,
      },
    });
    expect(created.status).toBe(201);
    const location = created.headers.get("location")!;
    const file = Buffer.alloc(8 * 1024 * 1024);
    file.write("ustar", 257, "latin1");
    const sent = 3 * 1024 * 1024;
    // Declares the whole file, sends 3 MiB of it, and breaks the connection; the server's offset
    // once settled is what it kept of the chunk.
    await patchThenBreak(stack.url, token, location, file, sent);
    const kept = await settledOffset(stack.url, token, location);
    expect(kept).toBeGreaterThan(0);
    const counted = (sample(await scrape(), "holdout_uploaded_bytes_total", route) ?? 0) - before;
    // Every byte kept was counted; none beyond what was sent.
    expect(counted).toBeGreaterThanOrEqual(kept);
    expect(counted).toBeLessThanOrEqual(sent);
  });
});

describe("request ids and submission ids in the API's logs", () => {
  const lines: Record<string, unknown>[] = [];
  let app: Awaited<ReturnType<typeof buildApp>>;
  let close: () => Promise<void>;
  let token: string;

  beforeAll(async () => {
    const db = createDb(TEST_DATABASE_URL, { poolSize: 2 });
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const prefix = uniqueName("holdout-test");
    const queue = createQueue(redis, QUEUE_EVALUATE, { prefix });
    const competition = await ensureCompetition(db, { slug: uniqueName("comp"), name: "Logs" });
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "holdout-logs-"));
    token = (await createTeamWithToken(db, { competitionId: competition.id, name: uniqueName("team") }))
      .token;
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split("\n").filter(Boolean))
          lines.push(JSON.parse(line) as Record<string, unknown>);
        cb();
      },
    });
    app = await buildApp({
      db,
      redis,
      queue,
      competition,
      dataDir,
      maxUploadBytes: 64 * 1024 * 1024,
      session: { ttlMs: 3600_000, cookieSecure: false },
      rateLimit: { keyPrefix: `${prefix}:rl` },
      logger: { level: "info", stream },
    });
    close = async () => {
      await app.close();
      await queue.obliterate({ force: true });
      await queue.close();
      await redis.quit();
      await db.$disconnect();
      await rm(dataDir, { recursive: true, force: true });
    };
  });
  afterAll(() => close?.());

  it("echoes a sane X-Request-ID, replaces an unsafe one, and logs it", async () => {
    const kept = await app.inject({ url: "/healthz", headers: { "x-request-id": "edge-7f3a.1" } });
    expect(kept.headers["x-request-id"]).toBe("edge-7f3a.1");
    expect(lines.some((l) => l.reqId === "edge-7f3a.1" && l.msg === "request completed")).toBe(true);

    const unsafe = await app.inject({ url: "/healthz", headers: { "x-request-id": 'x" injected\nline' } });
    expect(unsafe.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines.some((l) => typeof l.reqId === "string" && l.reqId.includes("injected"))).toBe(false);
  });

  it("puts the submission id on the upload's and the status requests' log lines", async () => {
    const fd = new FormData();
    fd.append("model", "logged");
    fd.append("image", await tarOf(1024), "model.tar");
    const req = new Request("http://localhost/api/v1/submissions", { method: "POST", body: fd });
    const res = await app.inject({
      method: "POST",
      url: "/api/v1/submissions",
      headers: { ...Object.fromEntries(req.headers), authorization: `Bearer ${token}` },
      payload: Buffer.from(await req.arrayBuffer()),
    });
    expect(res.statusCode).toBe(202);
    const { id } = res.json<{ id: string }>();
    const uploadLines = lines.filter((l) => l.reqId === res.headers["x-request-id"]);
    expect(uploadLines.find((l) => l.msg === "request completed")?.submissionId).toBe(id);

    const status = await app.inject({
      url: `/api/v1/submissions/${id}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(status.statusCode).toBe(200);
    const statusLine = lines.find(
      (l) => l.reqId === status.headers["x-request-id"] && l.msg === "request completed",
    );
    expect(statusLine?.submissionId).toBe(id);
    // Credentials never reach a log line.
    expect(JSON.stringify(lines)).not.toContain(token);
  });
});

describe("worker metrics module", () => {
  it("counts runs by phase and outcome, their durations, image loads and queue depth", async () => {
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE_EVALUATE, { connection: redis, prefix: uniqueName("holdout-test") });
    try {
      await queue.add("evaluate", { submissionId: randomUUID() });
      await queue.add("evaluate", { submissionId: randomUUID() });
      const m = createWorkerMetrics({ queues: [queue] });
      m.runFinished({ phase: "smoke", outcome: "ok", seconds: 4 });
      m.runFinished({ phase: "hidden", outcome: "ok", seconds: 90 });
      m.runFinished({ phase: "hidden", outcome: "timeout", seconds: 1800 });
      m.imageLoaded({ seconds: 3.5, bytes: 120 * 1024 * 1024 });
      const text = await m.registry.metrics();
      expect(sample(text, "holdout_worker_runs_total", { phase: "hidden", outcome: "ok" })).toBe(1);
      expect(sample(text, "holdout_worker_runs_total", { phase: "hidden", outcome: "timeout" })).toBe(1);
      expect(sample(text, "holdout_worker_runs_total", { phase: "smoke", outcome: "ok" })).toBe(1);
      expect(sample(text, "holdout_worker_run_duration_seconds_bucket", { phase: "hidden", le: "120" })).toBe(
        1,
      );
      expect(sample(text, "holdout_worker_run_duration_seconds_count", { phase: "hidden" })).toBe(2);
      expect(sample(text, "holdout_worker_image_load_seconds_bucket", { le: "5" })).toBe(1);
      expect(sample(text, "holdout_worker_image_loaded_bytes_total")).toBe(120 * 1024 * 1024);
      expect(sample(text, "holdout_queue_jobs", { queue: QUEUE_EVALUATE, state: "waiting" })).toBe(2);
      expect(promtoolComplaints(text)).toBe("");
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      await redis.quit();
    }
  });
});
