import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { EventSource } from "eventsource";
import { createParser } from "eventsource-parser";
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { buildApp } from "@holdout/api";
import { createQueue, QUEUE_EVALUATE, type EvaluateQueue } from "@holdout/contracts";
import {
  createDb,
  createSubmission,
  createTeamWithToken,
  currentPhaseAt,
  ensureCompetition,
  markQueued,
  markScoring,
  recordHeartbeat,
  recordScore,
  removeHeartbeat,
  startRun,
  type Db,
  type RunLease,
} from "@holdout/db";
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from "../support/env.ts";

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
  let queue: EvaluateQueue;
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
    queue = createQueue(redis, QUEUE_EVALUATE, { prefix });
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

  /** A worker records a score (one task's, enough for the timeline). */
  const scored = (lease: RunLease) =>
    recordScore(db, lease, {
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
    await scored(lease!);

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

  it("tells each queued submission its place, in the order the fair share runs them", async () => {
    // Another team's single submission, queued last, goes after one of the owner's two.
    const ids = [await queued(owner.id), await queued(owner.id), await queued(other.id)];
    const second = await openStream(eventsUrl(ids[1]!), owner.token);
    onTestFinished(() => second.close());
    await second.until((es) => es.some((e) => e.event === "queue"));
    expect(second.events.find((e) => e.event === "queue")!.data.position).toBe(3);
    const single = await (
      await fetch(`${url}/api/v1/submissions/${ids[2]}`, {
        headers: { authorization: `Bearer ${other.token}` },
      })
    ).json();
    expect(single).toMatchObject({ queuePosition: 2 });
    const status = (await (
      await fetch(`${url}/api/v1/submissions/${ids[1]}`, {
        headers: { authorization: `Bearer ${owner.token}` },
      })
    ).json()) as {
      queuePosition: number;
      estimatedStartAt: string | null;
      refunded: boolean;
      failedPhase: null;
    };
    expect(status).toMatchObject({ queuePosition: 3, refunded: false, failedPhase: null });
    // The first one starts: the owner's second moves up, and its stream says so.
    await startRun(db, ids[0]!, { worker: "worker-b", leaseMs: 60_000 });
    await second.until((es) => es.some((e) => e.event === "queue" && e.data.position === 2));
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
  /** A real EventSource (the `eventsource` package, WHATWG-conformant), counting its requests. */
  function eventSource(id: string, token: string) {
    const requests: { lastEventId: string | null }[] = [];
    const es = new EventSource(eventsUrl(id), {
      fetch: (input, init) => {
        const headers = new Headers(init?.headers);
        requests.push({ lastEventId: headers.get("last-event-id") });
        headers.set("authorization", `Bearer ${token}`);
        return fetch(input, { ...init, headers });
      },
    });
    const seen: { type: string; data: Record<string, unknown>; id: string }[] = [];
    for (const type of ["timeline", "queue", "end"]) {
      es.addEventListener(type, (e) => {
        seen.push({ type, data: JSON.parse(String(e.data)) as Record<string, unknown>, id: e.lastEventId });
      });
    }
    onTestFinished(() => es.close());
    return { es, requests, seen };
  }

  const until = async (pred: () => boolean) => {
    while (!pred()) await new Promise((r) => setTimeout(r, 50));
  };

  it("tells an EventSource that reconnects to a final submission to stop (204), once", async () => {
    const id = await queued(owner.id);
    const { es, requests, seen } = eventSource(id, owner.token);
    await until(() => seen.some((e) => e.type === "queue"));
    const { lease } = await startRun(db, id, { worker: "worker-c", leaseMs: 60_000 });
    await markScoring(db, lease!, { digest: "sha256:x", size: 1 });
    await scored(lease!);
    const errors: (number | undefined)[] = [];
    es.addEventListener("error", (e) => errors.push(e.code));
    await until(() => seen.some((e) => e.type === "end"));
    // The stream closed after `end`: the client reconnects (after its retry delay), is told 204,
    // and stops for good.
    await until(() => es.readyState === EventSource.CLOSED);
    expect(errors).toEqual([undefined, 204]);
    const lastTimeline = seen.filter((e) => e.type === "timeline").at(-1)!;
    expect(lastTimeline.data.state).toBe("scored");
    expect(requests).toEqual([{ lastEventId: null }, { lastEventId: lastTimeline.id }]);
    expect(seen.filter((e) => e.type === "end")).toHaveLength(1);
  });

  it("sends a queue estimate only when it changes, and it holds while nothing does", async () => {
    // A live worker and a finished run to learn the typical run time from.
    const worker = {
      name: uniqueName("events-worker"),
      host: "test",
      pid: 1,
      concurrency: 1,
      startedAt: new Date(),
    };
    await recordHeartbeat(db, worker, [], 60_000);
    onTestFinished(() => removeHeartbeat(db, worker.name));
    const finishedRun = async (endedAgoMs: number) => {
      const id = randomUUID();
      const end = Date.now() - endedAgoMs;
      await db.submission.create({
        data: {
          id,
          competitionId,
          phaseId: (await currentPhaseAt(db, competitionId, new Date())).id,
          teamId: other.id,
          modelName: "earlier",
          uploadSize: 1n,
          uploadSha256: "0".repeat(64),
          state: "scored",
          startedAt: new Date(end - 30_000),
          finishedAt: new Date(end),
        },
      });
    };
    await finishedRun(60_000);
    const id = await queued(owner.id);
    const { queuedAt } = await db.submission.findUniqueOrThrow({ where: { id } });
    const { seen } = eventSource(id, owner.token);
    const estimates = () => seen.filter((e) => e.type === "queue").map((e) => e.data);
    await until(() => estimates().length > 0);
    // First in line with a slot free: it should start when it was queued, not "now" each second.
    expect(estimates()).toEqual([{ position: 1, estimatedStartAt: queuedAt!.toISOString() }]);
    // Many polls later (every 100 ms here) nothing moved, so nothing more was said.
    await new Promise((r) => setTimeout(r, 1500));
    expect(estimates()).toHaveLength(1);
    const status = async () =>
      (
        (await (
          await fetch(`${url}/api/v1/submissions/${id}`, {
            headers: { authorization: `Bearer ${owner.token}` },
          })
        ).json()) as { estimatedStartAt: string }
      ).estimatedStartAt;
    expect(await status()).toBe(queuedAt!.toISOString());

    // A run ends: the queue moved, the estimate counts from then, and the stream says so once.
    await finishedRun(0);
    const moved = await db.submission.aggregate({ where: { competitionId }, _max: { finishedAt: true } });
    await until(() => estimates().length > 1);
    expect(estimates()[1]).toEqual({ position: 1, estimatedStartAt: moved._max.finishedAt!.toISOString() });
    await new Promise((r) => setTimeout(r, 1000));
    expect(estimates()).toHaveLength(2);
    expect(await status()).toBe(moved._max.finishedAt!.toISOString());
    await db.submission.update({ where: { id }, data: { state: "cancelled" } });
  });
});
