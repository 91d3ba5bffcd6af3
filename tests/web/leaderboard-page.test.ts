import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TASKS } from "@holdout/scorer";
import { seedScored } from "../support/browser.ts";
import { uniqueName } from "../support/env.ts";
import { startStack, type Stack } from "../support/stack.ts";

// The leaderboard page as a browser without JavaScript gets it: its columns, ranks, intervals, tie
// marks, sorting, filtering and downloads; escaping of hostile names; security headers. The forms
// and the submission page have files of their own (forms.test.ts, submission-page.test.ts).

const HTML = { accept: "text/html" };

/** The submission ids of the leaderboard's rows, in page order. */
function rowIds(html: string): string[] {
  return [...html.matchAll(/<tr data-submission="([^"]+)"/g)].map((m) => m[1]!);
}

/** The markup of one leaderboard row. */
function row(html: string, id: string): string {
  const start = html.indexOf(`<tr data-submission="${id}"`);
  if (start < 0) throw new Error(`no row for ${id}`);
  return html.slice(start, html.indexOf("</tr>", start));
}

const cell = (rowHtml: string, cls: string) =>
  new RegExp(`<td class="[^"]*\\b${cls}\\b[^"]*">([\\s\\S]*?)</td>`).exec(rowHtml)?.[1] ?? null;

describe("leaderboard page", () => {
  let stack: Stack;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    stack = await startStack();
    const c = stack.competition.id;
    const alpha = await stack.createTeam(uniqueName("Alpha Lab"), "Alpha University");
    const beta = await stack.createTeam(uniqueName("Beta Group"), "Beta Institute");
    const gamma = await stack.createTeam(uniqueName("Gamma"), "Gamma College");
    ids.leader = await seedScored(stack.db, {
      competitionId: c,
      teamId: alpha.id,
      model: "Leader Net",
      meanAuc: 0.9312,
      rads: 2.6,
      ci: [0.9101, 0.9488],
      tied: true,
      createdAt: new Date("2019-09-01T10:00:00Z"),
      ensemble: true,
      link: "https://example.org/leader",
    });
    // Exactly the leader's score: shares rank 1 (dense ranking), and is not marked tied (same rank).
    ids.same = await seedScored(stack.db, {
      competitionId: c,
      teamId: beta.id,
      model: "Same Score",
      meanAuc: 0.9312,
      rads: 2.6,
      tied: true,
      createdAt: new Date("2019-10-05T10:00:00Z"),
    });
    ids.tied = await seedScored(stack.db, {
      competitionId: c,
      teamId: beta.id,
      model: "Close Second",
      meanAuc: 0.921,
      rads: 2.2,
      tied: true,
      createdAt: new Date("2019-08-15T10:00:00Z"),
    });
    ids.third = await seedScored(stack.db, {
      competitionId: c,
      teamId: gamma.id,
      model: "Third Way",
      meanAuc: 0.88,
      rads: 1.4,
      tied: false,
      ci: null,
      createdAt: new Date("2020-01-02T10:00:00Z"),
    });
    // Not listed: under the floor, hidden, disqualified.
    ids.low = await seedScored(stack.db, {
      competitionId: c,
      teamId: gamma.id,
      model: "Too Low",
      meanAuc: 0.6,
    });
    ids.hidden = await seedScored(stack.db, {
      competitionId: c,
      teamId: gamma.id,
      model: "Hidden One",
      meanAuc: 0.95,
    });
    await stack.db.submission.update({ where: { id: ids.hidden }, data: { hidden: true } });
    ids.dq = await seedScored(stack.db, {
      competitionId: c,
      teamId: gamma.id,
      model: "Disqualified One",
      meanAuc: 0.97,
    });
    await stack.db.submission.update({
      where: { id: ids.dq },
      data: { disqualified: true, disqualifiedReason: "used test labels" },
    });
  });
  afterAll(() => stack?.close());

  it("shows the official columns, dense ranks, intervals and the tie mark", async () => {
    const res = await fetch(`${stack.url}/`, { headers: HTML });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(rowIds(html)).toEqual([ids.leader, ids.same, ids.tied, ids.third]);

    const leader = row(html, ids.leader!);
    expect(cell(leader, "rank")).toBe("1");
    expect(cell(row(html, ids.same!), "rank")).toBe("1");
    expect(cell(row(html, ids.tied!), "rank")).toBe("2");
    expect(cell(row(html, ids.third!), "rank")).toBe("3");
    expect(leader).toContain("Sep 01, 2019");
    expect(leader).toContain("Leader Net");
    expect(leader).toContain("(ensemble)");
    expect(row(html, ids.third!)).toContain("(single model)");
    expect(leader).toContain("Alpha University");
    expect(leader).toContain('href="https://example.org/leader"');
    // 3 significant digits, the best in bold; rads with 2.
    expect(cell(leader, "auc")).toBe("<strong>0.931</strong>");
    expect(cell(row(html, ids.tied!), "auc")).toBe("0.921");
    expect(cell(leader, "rads")).toBe("2.6");
    expect(cell(row(html, ids.third!), "rads")).toBe("1.4");
    expect(cell(leader, "ci")).toContain("0.910–0.949");
    expect(cell(row(html, ids.third!), "ci")).toContain("–");
    // The tie mark: on the tied entry, not on the leader, not on a clearly different one.
    expect(cell(row(html, ids.tied!), "ci")).toContain("statistically tied with the leader");
    expect(cell(leader, "ci")).not.toContain("tied");
    expect(cell(row(html, ids.third!), "ci")).not.toContain("tied");
    expect(html).toContain("paired bootstrap");
    for (const hidden of ["Too Low", "Hidden One", "Disqualified One"]) expect(html).not.toContain(hidden);
    // Usable without JavaScript: the page loads no script at all.
    expect(html).not.toContain("<script");
  });

  it("adds per-task columns on demand, sorts, and filters by team or model", async () => {
    const plain = await (await fetch(`${stack.url}/`)).text();
    expect(plain).not.toContain('class="num task"');
    const withTasks = await (await fetch(`${stack.url}/?tasks=1`)).text();
    for (const task of TASKS) expect(withTasks).toContain(`>${task}</a></th>`);
    expect(row(withTasks, ids.leader!).match(/class="num task"/g)).toHaveLength(5);

    const byDateAsc = await (await fetch(`${stack.url}/?sort=date&dir=asc`)).text();
    expect(rowIds(byDateAsc)).toEqual([ids.tied, ids.leader, ids.same, ids.third]);
    expect(byDateAsc).toMatch(/<th scope="col" class=" date" aria-sort="ascending">/);
    const byAucAsc = await (await fetch(`${stack.url}/?sort=auc&dir=asc`)).text();
    expect(rowIds(byAucAsc)[0]).toBe(ids.third);
    // Ranks stay the competition's ranks whatever the order.
    expect(cell(row(byAucAsc, ids.third!), "rank")).toBe("3");

    const filtered = await (await fetch(`${stack.url}/?q=${encodeURIComponent("beta group")}`)).text();
    expect(rowIds(filtered)).toEqual([ids.same, ids.tied]);
    expect(filtered).toContain("2 of 4 entries match");
    const byModel = await (await fetch(`${stack.url}/?q=third`)).text();
    expect(rowIds(byModel)).toEqual([ids.third]);

    const bad = await fetch(`${stack.url}/?sort=password`, { headers: HTML });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("HOLDOUT_ERR_VALIDATION");
    const badJson = await fetch(`${stack.url}/?sort=password`);
    expect(badJson.status).toBe(400);
    expect(badJson.headers.get("content-type")).toContain("application/problem+json");
  });

  it("offers CSV and JSON with the intervals and tie flags, keeping the original fields", async () => {
    const html = await (await fetch(`${stack.url}/`)).text();
    expect(html).toContain('href="/leaderboard.csv"');
    expect(html).toContain('href="/api/v1/leaderboard"');

    const json = (await (await fetch(`${stack.url}/api/v1/leaderboard`)).json()) as {
      entries: {
        submissionId: string;
        rank: number;
        meanAuc: number;
        display: { auc: string; rads: string; auc95: string | null };
        meanAuc95: [number, number] | null;
        tiedWithLeader: boolean | null;
        tasks: { task: string; auc: number; radsBelowCurve: number; auc95: [number, number] | null }[];
      }[];
    };
    const leader = json.entries[0]!;
    // Stored as 0.9312 [0.9101, 0.9488]: released at the official precision (3 decimals).
    expect(leader).toMatchObject({
      submissionId: ids.leader,
      rank: 1,
      meanAuc: 0.931,
      display: { auc: "0.931", rads: "2.6", auc95: "0.910–0.949" },
      meanAuc95: [0.91, 0.949],
      tiedWithLeader: true,
    });
    expect(leader.tasks.map((t) => t.task)).toEqual(TASKS);
    expect(leader.tasks[0]!.auc95).toHaveLength(2);
    expect(json.entries.find((e) => e.submissionId === ids.third)).toMatchObject({
      meanAuc95: null,
      tiedWithLeader: false,
    });

    const csv = await (await fetch(`${stack.url}/leaderboard.csv`)).text();
    const [header, first] = csv.trim().split("\n");
    expect(header).toMatch(
      /^rank,date,model,team,institution,link,ensemble,mean_auc,num_rads_below_curve,auc_atelectasis,.*,mean_auc_lo,mean_auc_hi,tied_with_leader,auc_lo_atelectasis,auc_hi_atelectasis,/,
    );
    expect(first).toContain("Leader Net");
    expect(first).toContain("0.91,0.949,TRUE");
    expect(csv).not.toContain("0.9312");
  });

  it("shows a change made by any process at once (the cached board is rebuilt when its rows change)", async () => {
    const before = await (await fetch(`${stack.url}/`)).text();
    expect(cell(row(before, ids.third!), "ci")).not.toContain("tied");
    // Written straight to PostgreSQL, as a worker in another process would.
    await stack.db.submission.update({ where: { id: ids.third }, data: { tiedWithLeader: true } });
    const tied = await (await fetch(`${stack.url}/`)).text();
    expect(cell(row(tied, ids.third!), "ci")).toContain("statistically tied with the leader");
    const team = await stack.db.submission.findUniqueOrThrow({
      where: { id: ids.third },
      select: { teamId: true },
    });
    await stack.db.team.update({ where: { id: team.teamId }, data: { institution: "Renamed College" } });
    expect(row(await (await fetch(`${stack.url}/`)).text(), ids.third!)).toContain("Renamed College");
    // The JSON answers 304 to a client holding the current version, and a new body once it changed.
    const current = await fetch(`${stack.url}/api/v1/leaderboard`);
    const etag = current.headers.get("etag") ?? "";
    expect(etag).toMatch(/^"[\w-]+"$/);
    const unchanged = await fetch(`${stack.url}/api/v1/leaderboard`, { headers: { "if-none-match": etag } });
    expect(unchanged.status).toBe(304);
    await stack.db.submission.update({ where: { id: ids.third }, data: { hidden: true } });
    expect(rowIds(await (await fetch(`${stack.url}/`)).text())).not.toContain(ids.third);
    const after = await fetch(`${stack.url}/api/v1/leaderboard`, { headers: { "if-none-match": etag } });
    expect(after.status).toBe(200);
    expect(after.headers.get("content-type")).toMatch(/^application\/json/);
    const json = (await after.json()) as { entries: { submissionId: string }[] };
    expect(json.entries.map((e) => e.submissionId)).not.toContain(ids.third);
    await stack.db.submission.update({
      where: { id: ids.third },
      data: { hidden: false, tiedWithLeader: false },
    });
    await stack.db.team.update({ where: { id: team.teamId }, data: { institution: "Gamma College" } });
    expect(rowIds(await (await fetch(`${stack.url}/`)).text())).toContain(ids.third);
  });

  it("escapes hostile names and never links a javascript: URL", async () => {
    const evil = await stack.createTeam(
      `<script>alert("team")</script>${uniqueName("x")}`,
      `"><img src=x onerror=alert(1)>`,
    );
    const id = await seedScored(stack.db, {
      competitionId: stack.competition.id,
      teamId: evil.id,
      model: `<svg onload=alert(1)>`,
      meanAuc: 0.75,
      link: "javascript:alert(1)",
    });
    for (const path of ["/", `/submissions/${id}`]) {
      const html = await (await fetch(`${stack.url}${path}`)).text();
      expect(html).not.toContain("<script>alert");
      expect(html).not.toContain("<svg onload");
      expect(html).not.toContain("<img src=x");
      expect(html).not.toContain("javascript:");
      expect(html).toContain("&lt;svg onload=alert(1)&gt;");
    }
  });

  it("sends security headers and a content security policy without inline code", async () => {
    for (const path of ["/", "/login", "/api/v1/leaderboard"]) {
      const res = await fetch(`${stack.url}${path}`);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain("unsafe-inline");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("referrer-policy")).toBe("same-origin");
    }
    const html = await (await fetch(`${stack.url}/`)).text();
    expect(html).not.toMatch(/<style|style="|<script>| on[a-z]+="/);
    const css = /href="(\/static\/app\.[0-9a-f]+\.css)"/.exec(html)?.[1];
    expect(css).toBeDefined();
    const asset = await fetch(`${stack.url}${css}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toContain("text/css");
    expect(asset.headers.get("cache-control")).toContain("immutable");
    // The icon is ours too (a browser would otherwise ask for /favicon.ico and get a 404).
    const icon = /<link rel="icon" type="image\/svg\+xml" href="(\/static\/favicon\.[0-9a-f]+\.svg)">/.exec(
      html,
    )?.[1];
    expect(icon).toBeDefined();
    const svg = await fetch(`${stack.url}${icon}`);
    expect(svg.status).toBe(200);
    expect(svg.headers.get("content-type")).toContain("image/svg+xml");
    expect(await svg.text()).toMatch(/^<svg /);
    const missing = await fetch(`${stack.url}/static/nothing.css`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toContain("application/problem+json");
  });
});
