import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUEUE_RESCORE } from "@holdout/contracts";
import { ensureCompetition, listAudit } from "@holdout/db";
import { seedScored, sessionCookieFor } from "../support/browser.ts";
import { holdout } from "../support/cli.ts";
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from "../support/env.ts";
import { startStack, type Stack } from "../support/stack.ts";

// Every organizer action leaves a row saying who did what, when, to what and why: listed newest
// first in the admin API and on the organizer page. A team's own actions (hiding its entry) are not
// organizer actions and leave none. The command line's closing is audited too.

interface AuditEvent {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: { type: string; id: string } | null;
  detail: string | null;
}

describe("the organizer audit log", () => {
  let stack: Stack;
  let redis: Redis;
  let rescoreQueue: Queue;
  let organizer: { id: string; email: string; token: string };
  let team: { id: string; token: string };

  beforeAll(async () => {
    stack = await startStack();
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    rescoreQueue = new Queue(QUEUE_RESCORE, { connection: redis, prefix: stack.prefix });
    organizer = await stack.createOrganizer();
    team = await stack.createTeam();
  });
  afterAll(async () => {
    await rescoreQueue?.obliterate({ force: true });
    await rescoreQueue?.close();
    await redis?.quit();
    await stack?.close();
  });

  const api = (p: string, init: { method?: string; token?: string; body?: unknown } = {}) =>
    fetch(`${stack.url}${p}`, {
      method: init.method ?? "GET",
      headers: {
        ...(init.token === "" ? {} : { authorization: `Bearer ${init.token ?? organizer.token}` }),
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });

  it("records each action with who, what, on what and why, newest first", async () => {
    const entry = await seedScored(stack.db, {
      competitionId: stack.competition.id,
      teamId: team.id,
      model: "Audited",
      meanAuc: 0.9,
    });
    await stack.db.submissionPredictions.create({ data: { submissionId: entry, csv: "Study\n" } });
    const who = `organizer:${organizer.email}`;

    const steps: [string, string, unknown?][] = [
      ["PATCH", "/api/v1/admin/settings", { quotaPerDay: 7, ladder: true }],
      ["POST", `/api/v1/admin/teams/${team.id}/unapprove`],
      ["POST", `/api/v1/admin/teams/${team.id}/approve`],
      ["POST", `/api/v1/submissions/${entry}/hide`],
      ["POST", `/api/v1/submissions/${entry}/unhide`],
      ["POST", `/api/v1/admin/submissions/${entry}/disqualify`, { reason: "used the test labels" }],
      ["POST", `/api/v1/admin/submissions/${entry}/requalify`],
      ["POST", `/api/v1/admin/submissions/${entry}/rescore`],
      ["POST", "/api/v1/admin/competition/close", { confirm: stack.competition.slug }],
    ];
    for (const [method, p, body] of steps) {
      const res = await api(p, { method, body });
      expect(res.status, `${method} ${p}`).toBeLessThan(300);
    }
    // The team hiding its own entry is its business, not an organizer action.
    expect(
      (await api(`/api/v1/submissions/${entry}/hide`, { method: "POST", token: team.token })).status,
    ).toBe(200);

    const { events } = (await (await api("/api/v1/admin/audit")).json()) as { events: AuditEvent[] };
    expect(events.map((e) => e.action)).toEqual([
      "competition.close",
      "submission.rescore",
      "submission.requalify",
      "submission.disqualify",
      "submission.unhide",
      "submission.hide",
      "team.approve",
      "team.unapprove",
      "settings.update",
    ]);
    for (const e of events) expect(e.actor).toBe(who);
    const byAction = new Map(events.map((e) => [e.action, e]));
    expect(byAction.get("submission.disqualify")).toMatchObject({
      target: { type: "submission", id: entry },
      detail: "used the test labels",
    });
    expect(byAction.get("team.approve")?.target).toEqual({ type: "team", id: team.id });
    expect(byAction.get("settings.update")?.detail).toBe("quotaPerDay: 1000 → 7; ladder: false → true");
    expect(byAction.get("competition.close")?.target).toEqual({
      type: "competition",
      id: stack.competition.id,
    });
    const ids = events.map((e) => BigInt(e.id));
    expect([...ids].sort((a, b) => (a < b ? 1 : -1))).toEqual(ids);

    // Paged back by id.
    const first = (await (await api("/api/v1/admin/audit?limit=2")).json()) as { events: AuditEvent[] };
    expect(first.events.map((e) => e.action)).toEqual(["competition.close", "submission.rescore"]);
    const next = (await (await api(`/api/v1/admin/audit?limit=2&before=${first.events[1]!.id}`)).json()) as {
      events: AuditEvent[];
    };
    expect(next.events.map((e) => e.action)).toEqual(["submission.requalify", "submission.disqualify"]);

    // Organizers only; and on the organizer page.
    expect((await api("/api/v1/admin/audit", { token: team.token })).status).toBe(403);
    expect((await api("/api/v1/admin/audit", { token: "" })).status).toBe(401);
    const cookie = await sessionCookieFor(stack.db, { accountId: organizer.id });
    const page = await (
      await fetch(`${stack.url}/admin`, { headers: { cookie, accept: "text/html" } })
    ).text();
    const rows = [...page.matchAll(/<tr data-audit="\d+">[\s\S]*?<code>([a-z.]+)<\/code>/g)].map((m) => m[1]);
    expect(rows).toEqual(events.map((e) => e.action));
    expect(page).toContain("used the test labels");
  });

  it("holdout competition close asks for the slug, closes once, and leaves a row naming the command line", async () => {
    const slug = uniqueName("cli-close");
    const competition = await ensureCompetition(stack.db, { slug, name: "CLI Closing" });
    const env = { DATABASE_URL: TEST_DATABASE_URL, HOLDOUT_COMPETITION: slug };

    const refused = await holdout(["competition", "close"], env, "not-the-slug\n");
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("not closed");
    expect((await stack.db.competition.findUniqueOrThrow({ where: { id: competition.id } })).state).toBe(
      "open",
    );

    const closed = await holdout(["competition", "close", "--json"], env, `${slug}\n`);
    expect(closed.code, closed.stderr).toBe(0);
    const out = JSON.parse(closed.stdout) as { state: string; closedBy: string };
    expect(out.state).toBe("closed");
    expect(out.closedBy).toMatch(/^cli:.+@.+/);
    const [row] = await listAudit(stack.db, competition.id, { limit: 10 });
    expect(row).toMatchObject({ action: "competition.close", actor: out.closedBy });

    const again = await holdout(["competition", "close", "--yes"], env, "");
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already closed");
    expect(await listAudit(stack.db, competition.id, { limit: 10 })).toHaveLength(1);
  });
});
