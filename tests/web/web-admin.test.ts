import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUEUE_LEADER_TIES, QUEUE_RESCORE, type LeaderTiesJob, type RescoreJob } from "@holdout/contracts";
import { listSubmissionEvents } from "@holdout/db";
import { seedScored, seedSubmission, sessionCookieFor } from "../support/browser.ts";
import { TEST_REDIS_URL, uniqueName } from "../support/env.ts";
import { startStack, type Stack } from "../support/stack.ts";

// The organizer's side, through the admin API and the organizer pages: the queue and workers as
// the database and BullMQ know them, re-scoring (a real job on the real Redis), disqualification
// with a reason, hiding, and the competition's settings.

describe("organizer API and pages", () => {
  let stack: Stack;
  let redis: Redis;
  let rescoreQueue: Queue<RescoreJob>;
  let tiesQueue: Queue<LeaderTiesJob>;
  let organizer: { id: string; email: string; token: string };
  let organizerCookie: string;
  let team: { id: string; token: string };
  const workerNames = [uniqueName("worker-live"), uniqueName("worker-gone")];

  beforeAll(async () => {
    stack = await startStack();
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    rescoreQueue = new Queue<RescoreJob>(QUEUE_RESCORE, {
      connection: redis,
      prefix: stack.queue.opts.prefix!,
    });
    tiesQueue = new Queue<LeaderTiesJob>(QUEUE_LEADER_TIES, {
      connection: redis,
      prefix: stack.queue.opts.prefix!,
    });
    organizer = await stack.createOrganizer();
    organizerCookie = await sessionCookieFor(stack.db, { accountId: organizer.id });
    team = await stack.createTeam(uniqueName("Queue Team"));
  });
  afterAll(async () => {
    await stack?.db.workerHeartbeat.deleteMany({ where: { name: { in: workerNames } } });
    await rescoreQueue?.obliterate({ force: true });
    await rescoreQueue?.close();
    await tiesQueue?.obliterate({ force: true });
    await tiesQueue?.close();
    await redis?.quit();
    await stack?.close();
  });

  const api = (path: string, init: { method?: string; token?: string; body?: unknown } = {}) =>
    fetch(`${stack.url}${path}`, {
      method: init.method ?? "GET",
      headers: {
        authorization: `Bearer ${init.token ?? organizer.token}`,
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });

  it("is for organizers only", async () => {
    for (const path of ["/api/v1/admin/queue", "/api/v1/admin/workers"]) {
      expect((await api(path, { token: team.token })).status).toBe(403);
      expect((await fetch(`${stack.url}${path}`)).status).toBe(401);
    }
    const teamCookie = await sessionCookieFor(stack.db, { teamId: team.id });
    const page = await fetch(`${stack.url}/admin`, { headers: { cookie: teamCookie, accept: "text/html" } });
    expect(page.status).toBe(403);
    expect(await page.text()).toContain("HOLDOUT_ERR_FORBIDDEN");
    const anonymous = await fetch(`${stack.url}/admin`, { redirect: "manual" });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get("location")).toBe("/login?next=%2Fadmin");
  });

  it("lists the queue in order with positions, and workers from their heartbeats", async () => {
    const c = stack.competition.id;
    const first = await seedSubmission(stack.db, {
      competitionId: c,
      teamId: team.id,
      model: "First in line",
      state: "queued",
    });
    const second = await seedSubmission(stack.db, {
      competitionId: c,
      teamId: team.id,
      model: "Second in line",
      state: "queued",
    });
    await stack.db.submission.update({
      where: { id: second },
      data: { queuedAt: new Date(Date.now() + 1000) },
    });
    const running = await seedSubmission(stack.db, {
      competitionId: c,
      teamId: team.id,
      model: "Running now",
      state: "running",
    });
    await stack.db.submission.update({
      where: { id: running },
      data: { worker: workerNames[0], heartbeatAt: new Date() },
    });
    const now = Date.now();
    await stack.db.workerHeartbeat.createMany({
      data: [
        {
          name: workerNames[0]!,
          host: "host-a",
          pid: 101,
          concurrency: 2,
          running: 1,
          startedAt: new Date(now - 3600_000),
          lastSeenAt: new Date(now),
        },
        {
          name: workerNames[1]!,
          host: "host-b",
          pid: 202,
          concurrency: 1,
          running: 0,
          startedAt: new Date(now - 7200_000),
          lastSeenAt: new Date(now - 600_000),
        },
      ],
    });

    const queue = (await (await api("/api/v1/admin/queue")).json()) as {
      jobs: { evaluate: Record<string, number> };
      submissions: {
        id: string;
        position: number | null;
        state: string;
        worker: string | null;
        team: { name: string };
      }[];
    };
    const mine = queue.submissions.filter((s) => [first, second, running].includes(s.id));
    expect(mine.find((s) => s.id === first)?.position).toBe(1);
    expect(mine.find((s) => s.id === second)?.position).toBe(2);
    expect(mine.find((s) => s.id === running)).toMatchObject({
      position: null,
      state: "running",
      worker: workerNames[0],
    });
    expect(typeof queue.jobs.evaluate.waiting).toBe("number");

    const workers = (await (await api("/api/v1/admin/workers")).json()) as {
      workers: { name: string; stale: boolean; running: number; concurrency: number }[];
    };
    expect(workers.workers.find((w) => w.name === workerNames[0])).toMatchObject({
      stale: false,
      running: 1,
      concurrency: 2,
    });
    expect(workers.workers.find((w) => w.name === workerNames[1])).toMatchObject({ stale: true });

    const html = await (await fetch(`${stack.url}/admin`, { headers: { cookie: organizerCookie } })).text();
    const queueTable = html.slice(html.indexOf('id="queue-table"'), html.indexOf('id="workers"'));
    expect(queueTable.indexOf(first)).toBeLessThan(queueTable.indexOf(second));
    expect(queueTable).toContain("Running now");
    expect(html).toContain(`data-worker="${workerNames[1]}"`);
    expect(html).toContain("(no heartbeat)");
  });

  it("queues a re-score as a real job, only for scored submissions with stored predictions", async () => {
    const c = stack.competition.id;
    const scored = await seedScored(stack.db, {
      competitionId: c,
      teamId: team.id,
      model: "Rescore me",
      meanAuc: 0.82,
    });
    const noPredictions = await api(`/api/v1/admin/submissions/${scored}/rescore`, { method: "POST" });
    expect(noPredictions.status).toBe(409);
    expect(((await noPredictions.json()) as { code: string }).code).toBe("HOLDOUT_ERR_NOT_RESCORABLE");

    await stack.db.submissionPredictions.create({
      data: { submissionId: scored, csv: "Study,Atelectasis\n" },
    });
    const before = Date.now();
    const res = await api(`/api/v1/admin/submissions/${scored}/rescore`, { method: "POST" });
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    const [prefix, sid, ms] = jobId.split(":");
    expect(prefix).toBe("rescore");
    expect(sid).toBe(scored);
    expect(Number(ms)).toBeGreaterThanOrEqual(before);
    const job = await rescoreQueue.getJob(jobId);
    expect(job?.data).toEqual({ submissionId: scored, requestedBy: `organizer:${organizer.email}` });

    const failed = await seedSubmission(stack.db, {
      competitionId: c,
      teamId: team.id,
      model: "Failed one",
      state: "failed",
      failure: { category: "timeout", message: "too slow" },
    });
    const notScored = await api(`/api/v1/admin/submissions/${failed}/rescore`, { method: "POST" });
    expect(notScored.status).toBe(409);
    expect(((await notScored.json()) as { detail: string }).detail).toContain("only scored submissions");
    expect(
      (await api(`/api/v1/admin/submissions/${crypto.randomUUID()}/rescore`, { method: "POST" })).status,
    ).toBe(404);
    expect(
      (await api(`/api/v1/admin/submissions/${scored}/rescore`, { method: "POST", token: team.token }))
        .status,
    ).toBe(403);

    // The organizer page's button does the same.
    const waitingBefore = await rescoreQueue.getJobCountByTypes("waiting", "prioritized", "delayed");
    const form = await fetch(`${stack.url}/admin/submissions/${scored}/rescore`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie: organizerCookie, "content-type": "application/x-www-form-urlencoded" },
      body: "",
    });
    expect(form.status).toBe(303);
    expect(form.headers.get("location")).toBe("/admin?notice=rescore");
    expect(await rescoreQueue.getJobCountByTypes("waiting", "prioritized", "delayed")).toBe(
      waitingBefore + 1,
    );
  });

  it("disqualifies with a reason, off the leaderboard, and back", async () => {
    const id = await seedScored(stack.db, {
      competitionId: stack.competition.id,
      teamId: team.id,
      model: "Suspicious",
      meanAuc: 0.99,
    });
    const listed = async () =>
      (
        (await (await fetch(`${stack.url}/api/v1/leaderboard`)).json()) as {
          entries: { submissionId: string }[];
        }
      ).entries.some((e) => e.submissionId === id);
    expect(await listed()).toBe(true);

    const missing = await api(`/api/v1/admin/submissions/${id}/disqualify`, { method: "POST", body: {} });
    expect(missing.status).toBe(400);
    const blank = await api(`/api/v1/admin/submissions/${id}/disqualify`, {
      method: "POST",
      body: { reason: "   " },
    });
    expect(blank.status).toBe(400);
    expect(((await blank.json()) as { errors: { field: string }[] }).errors[0]?.field).toBe("reason");

    const res = await api(`/api/v1/admin/submissions/${id}/disqualify`, {
      method: "POST",
      body: { reason: "trained on the test images" },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id, disqualified: true, reason: "trained on the test images" });
    expect(await listed()).toBe(false);
    // The workers are asked to recompute the tie marks: the listed set changed.
    const tiesJobs = await tiesQueue.getJobs(["waiting", "prioritized", "delayed"]);
    expect(tiesJobs.map((j) => j.data)).toContainEqual({
      competitionId: stack.competition.id,
      reason: `submission ${id} disqualified`,
    });
    expect(tiesJobs.every((j) => j.id!.startsWith(`ties:${stack.competition.id}:`))).toBe(true);
    // Every organizer action on an entry lands on its timeline (the team reads why), in its state.
    const lastEvent = async () => (await listSubmissionEvents(stack.db, id)).at(-1);
    expect(await lastEvent()).toMatchObject({
      state: "scored",
      detail: "disqualified by the organizers: trained on the test images",
    });

    const teamCookie = await sessionCookieFor(stack.db, { teamId: team.id });
    const page = await (
      await fetch(`${stack.url}/submissions/${id}`, { headers: { cookie: teamCookie } })
    ).text();
    expect(page).toContain("Disqualified by the organizers.");
    expect(page).toContain("trained on the test images");

    expect((await api(`/api/v1/admin/submissions/${id}/requalify`, { method: "POST" })).status).toBe(200);
    expect(await listed()).toBe(true);
    expect(await lastEvent()).toMatchObject({ state: "scored", detail: "requalified by the organizers" });

    // Through the organizer page: an empty reason is shown next to the field, nothing changes.
    const post = (path: string, body: string) =>
      fetch(`${stack.url}${path}`, {
        method: "POST",
        redirect: "manual",
        headers: {
          cookie: organizerCookie,
          "content-type": "application/x-www-form-urlencoded",
          accept: "text/html",
        },
        body,
      });
    const empty = await post(`/admin/submissions/${id}/disqualify`, "reason=");
    expect(empty.status).toBe(400);
    expect(await empty.text()).toMatch(new RegExp(`id="reason-${id}"[^>]*aria-invalid="true"`));
    expect(await listed()).toBe(true);
    const done = await post(`/admin/submissions/${id}/disqualify`, "reason=duplicate+account");
    expect(done.status).toBe(303);
    const row = await stack.db.submission.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ disqualified: true, disqualifiedReason: "duplicate account" });
    expect(await listed()).toBe(false);
    expect(await lastEvent()).toMatchObject({ detail: "disqualified by the organizers: duplicate account" });
    expect((await listSubmissionEvents(stack.db, id)).map((e) => e.detail)).toEqual(
      expect.arrayContaining([
        "disqualified by the organizers: trained on the test images",
        "requalified by the organizers",
        "disqualified by the organizers: duplicate account",
      ]),
    );
  });

  it("changes the competition settings from the organizer page, refusing bad numbers", async () => {
    const post = (body: string) =>
      fetch(`${stack.url}/admin/settings`, {
        method: "POST",
        redirect: "manual",
        headers: {
          cookie: organizerCookie,
          "content-type": "application/x-www-form-urlencoded",
          accept: "text/html",
        },
        body,
      });
    const bad = await post("registrationOpen=yes&quotaPerDay=-1&quotaTotal=lots");
    expect(bad.status).toBe(400);
    const html = await bad.text();
    expect(html).toMatch(/id="set-per-day-error"[^>]*>must be 0 or more</);
    expect(html).toMatch(/id="set-total-error"[^>]*>enter a whole number</);
    expect(html).toContain('value="lots"');
    const before = await stack.db.competition.findUniqueOrThrow({ where: { id: stack.competition.id } });
    expect(before.quotaPerDay).toBe(1000);

    const ok = await post("requireApproval=yes&quotaPerDay=3&quotaTotal=12");
    expect(ok.status).toBe(303);
    const after = await stack.db.competition.findUniqueOrThrow({ where: { id: stack.competition.id } });
    expect(after).toMatchObject({
      registrationOpen: false,
      requireApproval: true,
      quotaPerDay: 3,
      quotaTotal: 12,
    });
    const settings = await (await api("/api/v1/admin/settings")).json();
    expect(settings).toEqual({
      registrationOpen: false,
      requireApproval: true,
      quotaPerDay: 3,
      quotaTotal: 12,
      aucDecimals: 3,
      radsDecimals: 1,
      ladder: false,
      publicFraction: null,
      splitSeed: null,
      state: "open",
      closedAt: null,
      closedBy: null,
    });
    // Registration is closed now: the register page says so.
    expect(await (await fetch(`${stack.url}/register`)).text()).toContain("Registration is closed");
  });
});
