import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Queue } from "bullmq";
import { createParser } from "eventsource-parser";
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { buildApp } from "@holdout/api";
import { QUEUE_EVALUATE, type EvaluateJob } from "@holdout/contracts";
import {
  createDb,
  createSubmission,
  createTeamWithToken,
  ensureCompetition,
  markQueued,
  markScoring,
  recordScore,
  startRun,
  type Db,
} from "@holdout/db";
import { estimateStart, median } from "../apps/api/src/services/queue-position.ts";
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from "./support/env.ts";

// The submission timeline over server-sent events, read by a real HTTP client: events written
// straight to the database (as a worker in another process writes them) reach the stream, a
// dropped stream resumes with Last-Event-ID, queued submissions learn their place, and clients that
// go away leave nothing behind. The app is built here (not with startStack) to read its event hub.

interface SseEvent {
  event: string;
  id: string | undefined;
  data: Record<string, unknown>;
}

/** An open event stream: every event received so far, and a way to wait for the next ones. */
async function openStream(url: string, token: string | null, lastEventId?: string) {
  const abort = new AbortController();
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (lastEventId) headers["last-event-id"] = lastEventId;
  const res = await fetch(url, { headers, signal: abort.signal });
  const events: SseEvent[] = [];
  let closed = false;
  let wake = null as (() => void) | null;
  const parser = createParser({
    onEvent(e) {
      events.push({
        event: e.event ?? "message",
        id: e.id,
        data: JSON.parse(e.data) as Record<string, unknown>,
      });
      wake?.();
    },
  });
  const reading = (async () => {
    if (!res.ok || !res.body) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk));
    } catch {
      // aborted by the test
    }
    closed = true;
    wake?.();
  })();
  return {
    res,
    events,
    get closed() {
      return closed;
    },
    /** Waits until `pred` holds over the events received (or the stream ends). */
    async until(pred: (events: SseEvent[]) => boolean) {
      while (!pred(events) && !closed) await new Promise<void>((r) => (wake = r));
      return events;
    },
    async close() {
      abort.abort();
      await reading;
    },
  };
}

describe("submission events over SSE", () => {
  let db: Db;
  let redis: Redis;
  let queue: Queue<EvaluateJob>;
  let app: FastifyInstance;
  let url: string;
  let dataDir: string;
  let competitionId: string;
  let owner: { id: string; token: string };
  let other: { id: string; token: string };

  beforeAll(async () => {
    db = createDb(TEST_DATABASE_URL, { poolSize: 4 });
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const prefix = uniqueName("holdout-test");
    queue = new Queue<EvaluateJob>(QUEUE_EVALUATE, { connection: redis, prefix });
    dataDir = await mkdtemp(path.join(os.tmpdir(), "holdout-events-"));
    const competition = await ensureCompetition(db, { slug: uniqueName("comp"), name: "Events" });
    competitionId = competition.id;
    app = await buildApp({
      db,
      redis,
      queue,
      competition,
      dataDir,
      maxUploadBytes: 1024 ** 2,
      session: { ttlMs: 3600_000, cookieSecure: false },
      rateLimit: { perIp: 100_000, perCredential: 100_000, keyPrefix: `${prefix}:rl` },
      eventsPollMs: 100,
    });
    url = await app.listen({ host: "127.0.0.1", port: 0 });
    const team = async () => {
      const { team: t, token } = await createTeamWithToken(db, {
        competitionId,
        name: uniqueName("team"),
        institution: null,
      });
      return { id: t.id, token };
    };
    owner = await team();
    other = await team();
  });

  afterAll(async () => {
    await app?.close();
    await queue?.obliterate({ force: true });
    await queue?.close();
    await redis?.quit();
    await db?.$disconnect();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function queued(teamId: string) {
    const id = randomUUID();
    await createSubmission(db, {
      id,
      competitionId,
      teamId,
      modelName: "Streamed",
      description: null,
      link: null,
      ensemble: false,
      uploadFile: `${id}.tar`,
      uploadSize: 10,
      uploadSha256: "0".repeat(64),
    });
    await markQueued(db, id);
    return id;
  }

  const eventsUrl = (id: string) => `${url}/api/v1/submissions/${id}/events`;

  it("streams the timeline from queued to scored, resuming after a dropped connection", async () => {
    const id = await queued(owner.id);
    const first = await openStream(eventsUrl(id), owner.token);
    onTestFinished(() => first.close());
    expect(first.res.status).toBe(200);
    expect(first.res.headers.get("content-type")).toContain("text/event-stream");
    await first.until((es) => es.some((e) => e.event === "queue"));
    const timeline = first.events.filter((e) => e.event === "timeline");
    expect(timeline.map((e) => e.data.state)).toEqual(["received", "queued"]);
    expect(timeline.every((e) => e.id === e.data.id)).toBe(true);
    expect(first.events.find((e) => e.event === "queue")!.data).toMatchObject({ position: 1 });

    // A worker (any process) starts it: the stream hears it from the database.
    const { lease } = await startRun(db, id, { worker: "worker-a", leaseMs: 60_000 });
    await first.until((es) => es.some((e) => e.data.state === "running"));
    const running = first.events.find((e) => e.data.state === "running")!;
    expect(running.data.worker).toBe("worker-a");
    // It left the queue: the stream says so once.
    expect(first.events.filter((e) => e.event === "queue").at(-1)!.data).toEqual({
      position: null,
      estimatedStartAt: null,
    });
    await first.close();

    // While nobody listens, it is scored.
    await markScoring(db, lease!, { digest: "sha256:x", size: 1 });
    await recordScore(db, lease!, {
      meanAuc: 0.8,
      meanRadsBelowCurve: 1,
      score: 0.801,
      tasks: [
        {
          task: "Edema",
          auc: 0.8,
          radsBelowCurve: 1,
          roc: [
            [0, 0],
            [1, 1],
          ],
        },
      ],
    });

    // Resuming from the last event seen gives exactly what was missed, then `end`, then close.
    const resumed = await openStream(eventsUrl(id), owner.token, running.id);
    await resumed.until(() => false);
    expect(resumed.closed).toBe(true);
    expect(resumed.events.map((e) => [e.event, e.data.state])).toEqual([
      ["timeline", "scoring"],
      ["timeline", "scored"],
      ["end", "scored"],
    ]);

    // The JSON answer (Accept: application/json) is the same timeline.
    const json = (await (
      await fetch(eventsUrl(id), { headers: { authorization: `Bearer ${owner.token}` } })
    ).json()) as { events: { id: string; state: string; worker: string | null }[] };
    expect(json.events.map((e) => e.state)).toEqual(["received", "queued", "running", "scoring", "scored"]);
    expect(json.events[2]!.worker).toBe("worker-a");
  });

  it("is the owner's and the organizers' only: others get 404, anonymous 401", async () => {
    const id = await queued(owner.id);
    const stranger = await openStream(eventsUrl(id), other.token);
    expect(stranger.res.status).toBe(404);
    expect(((await stranger.res.json()) as { code: string }).code).toBe("HOLDOUT_ERR_NOT_FOUND");
    const anonymous = await openStream(eventsUrl(id), null);
    expect(anonymous.res.status).toBe(401);
    const bad = await openStream(eventsUrl(id), owner.token, "not-a-number");
    expect(bad.res.status).toBe(400);
    await db.submission.update({ where: { id }, data: { state: "cancelled" } });
  });

  it("tells each queued submission its place, in the order they were queued", async () => {
    const ids = [await queued(owner.id), await queued(other.id), await queued(owner.id)];
    const third = await openStream(eventsUrl(ids[2]!), owner.token);
    onTestFinished(() => third.close());
    await third.until((es) => es.some((e) => e.event === "queue"));
    expect(third.events.find((e) => e.event === "queue")!.data.position).toBe(3);
    const status = (await (
      await fetch(`${url}/api/v1/submissions/${ids[2]}`, {
        headers: { authorization: `Bearer ${owner.token}` },
      })
    ).json()) as {
      queuePosition: number;
      estimatedStartAt: string | null;
      refunded: boolean;
      failedPhase: null;
    };
    expect(status).toMatchObject({ queuePosition: 3, refunded: false, failedPhase: null });
    // The first one starts: the third moves up, and its stream says so.
    await startRun(db, ids[0]!, { worker: "worker-b", leaseMs: 60_000 });
    await third.until((es) => es.some((e) => e.event === "queue" && e.data.position === 2));
    for (const id of ids) await db.submission.update({ where: { id }, data: { state: "cancelled" } });
  });

  it("leaves no watcher and no poller behind when clients go away", async () => {
    const id = await queued(owner.id);
    const streams = await Promise.all(
      Array.from({ length: 8 }, () => openStream(eventsUrl(id), owner.token)),
    );
    onTestFinished(async () => {
      await Promise.all(streams.map((s) => s.close()));
    });
    await Promise.all(streams.map((s) => s.until((es) => es.some((e) => e.event === "queue"))));
    expect(app.submissionEvents.stats.watchers).toBe(8);
    await Promise.all(streams.map((s) => s.close()));
    while (app.submissionEvents.stats.watchers > 0 || app.submissionEvents.stats.polling) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(app.submissionEvents.stats).toEqual({ watchers: 0, polling: false });
    await db.submission.update({ where: { id }, data: { state: "cancelled" } });
  });
});

describe("queue estimates", () => {
  const now = new Date("2026-12-03T12:00:00Z");
  const minute = 60_000;

  it("the typical run time is the median of recent runs", () => {
    expect(median([])).toBeNull();
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it("counts waves of the live workers' slots ahead of a submission", () => {
    const facts = { slots: 2, running: 1, typicalRunMs: 10 * minute };
    // One slot is free: the next starts now; then each wave of 2 runs takes a typical run.
    expect(estimateStart(1, facts, now)).toEqual(now);
    expect(estimateStart(2, facts, now)!.getTime() - now.getTime()).toBe(10 * minute);
    expect(estimateStart(3, facts, now)!.getTime() - now.getTime()).toBe(10 * minute);
    expect(estimateStart(4, facts, now)!.getTime() - now.getTime()).toBe(20 * minute);
  });

  it("promises nothing without a live worker or without a finished run to learn from", () => {
    expect(estimateStart(1, { slots: 0, running: 0, typicalRunMs: minute }, now)).toBeNull();
    expect(estimateStart(1, { slots: 4, running: 0, typicalRunMs: null }, now)).toBeNull();
  });
});
