import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TASKS } from "@holdout/scorer";
import { formatDateTime } from "../../apps/api/src/web/format.ts";
import { seedScored, seedSubmission, sessionCookieFor } from "../support/browser.ts";
import { uniqueName } from "../support/env.ts";
import { startStack, type Stack } from "../support/stack.ts";

// The server-rendered pages as a browser without JavaScript gets them: the leaderboard's columns,
// ranks, intervals, tie marks, sorting, filtering and downloads; escaping of hostile names; security
// headers; sign-in and registration forms; the submission page's explanations; who sees what.

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

describe("forms without JavaScript", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${stack.url}${path}`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html", ...headers },
      body: form(fields),
    });

  it("registers a team, shows its token once, signs it in; field errors sit next to their fields", async () => {
    const bad = await post("/register", { name: "", email: "not-an-email", password: "short" });
    expect(bad.status).toBe(400);
    const badHtml = await bad.text();
    expect(badHtml).toMatch(/id="reg-name"[^>]*aria-invalid="true"/);
    expect(badHtml).toMatch(/id="reg-name-error"[^>]*>Team name is required</);
    expect(badHtml).toMatch(/id="reg-email-error"[^>]*>enter an email address like name@example.org</);
    expect(badHtml).toMatch(/id="reg-password-error"[^>]*>at least 10 characters</);
    expect(badHtml).toMatch(/id="reg-terms-error"[^>]*>accept the data-use terms to register</);
    expect(badHtml).toContain('value="not-an-email"'); // what was typed is kept…
    expect(badHtml).not.toContain('value="short"'); // …except the password

    const name = uniqueName("Form Team");
    const email = `${uniqueName("form")}@example.org`;
    const ok = await post("/register", {
      name,
      institution: "Form U",
      email,
      password: "a long enough password",
      acceptTerms: "yes",
    });
    expect(ok.status).toBe(201);
    const cookie = ok.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^holdout_session=[^;]+;.*HttpOnly.*SameSite=Lax/);
    const page = await ok.text();
    const token = /id="new-token">(hld_[^<]+)</.exec(page)?.[1];
    expect(token).toBeDefined();
    // The page that shows the token is no cache's to keep, and its header shows the new session.
    expect(ok.headers.get("cache-control")).toBe("private, no-store");
    expect(page).toContain(">Sign out<");
    expect(page).not.toContain('href="/login"');
    // The token works with the API.
    const quota = await fetch(`${stack.url}/api/v1/quota`, { headers: { authorization: `Bearer ${token}` } });
    expect(quota.status).toBe(200);

    const taken = await post("/register", {
      name,
      email: `other-${email}`,
      password: "a long enough password",
      acceptTerms: "yes",
    });
    expect(taken.status).toBe(409);
    expect(await taken.text()).toMatch(/id="reg-name-error"[^>]*>This team name is taken/);

    // Signing in, wrong then right; the session cookie opens the team page.
    const wrong = await post("/login", { email, password: "wrong password!" });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain("Wrong email or password.");
    const login = await post("/login", { email, password: "a long enough password", next: "/submit" });
    expect(login.status).toBe(303);
    expect(login.headers.get("location")).toBe("/submit");
    const session = (login.headers.get("set-cookie") ?? "").split(";")[0]!;
    const submit = await fetch(`${stack.url}/submit`, { headers: { cookie: session } });
    expect(submit.status).toBe(200);
    const submitHtml = await submit.text();
    expect(submitHtml).toContain("submissions left now");
    expect(submitHtml).toContain('id="sub-progress"');
    // Leaving to another site after signing in is refused.
    const away = await post("/login", {
      email,
      password: "a long enough password",
      next: "//evil.example/x",
    });
    expect(away.headers.get("location")).toBe("/team");

    const out = await post("/logout", {}, { cookie: session });
    expect(out.status).toBe(303);
    const after = await fetch(`${stack.url}/team`, { headers: { cookie: session }, redirect: "manual" });
    expect(after.status).toBe(303);
    expect(after.headers.get("location")).toBe("/login?next=%2Fteam");
  });

  it("refuses cross-site form posts (CSRF) and changes nothing", async () => {
    const team = await stack.createTeam();
    const id = await seedScored(stack.db, {
      competitionId: stack.competition.id,
      teamId: team.id,
      model: "Victim",
      meanAuc: 0.8,
    });
    const cookie = await sessionCookieFor(stack.db, { teamId: team.id });
    const forged: Record<string, string>[] = [
      { cookie, origin: "https://evil.example" },
      { cookie, "sec-fetch-site": "cross-site" },
      { cookie, origin: "null" },
    ];
    for (const headers of forged) {
      const res = await post(`/submissions/${id}/hide`, {}, { ...headers, accept: "application/json" });
      expect(res.status).toBe(403);
      const problem = (await res.json()) as { code: string; detail: string };
      expect(problem.code).toBe("HOLDOUT_ERR_FORBIDDEN");
      expect(problem.detail).toContain("refused");
      // The API's own routes are covered too.
      const api = await fetch(`${stack.url}/api/v1/submissions/${id}/hide`, { method: "POST", headers });
      expect(api.status).toBe(403);
    }
    expect((await stack.db.submission.findUniqueOrThrow({ where: { id } })).hidden).toBe(false);
    // From the site itself it works.
    const host = new URL(stack.url).host;
    const same = await post(
      `/submissions/${id}/hide`,
      { next: "/team" },
      { cookie, origin: `http://${host}`, "sec-fetch-site": "same-origin" },
    );
    expect(same.status).toBe(303);
    expect(same.headers.get("location")).toBe("/team");
    expect((await stack.db.submission.findUniqueOrThrow({ where: { id } })).hidden).toBe(true);
  });

  it("creates and revokes API tokens on the team page", async () => {
    const team = await stack.createTeam();
    const cookie = await sessionCookieFor(stack.db, { teamId: team.id });
    const created = await post("/team/tokens", { label: "laptop" }, { cookie });
    expect(created.status).toBe(201);
    const html = await created.text();
    const token = /id="new-token">(hld_[^<]+)</.exec(html)?.[1];
    expect(token).toBeDefined();
    expect(created.headers.get("cache-control")).toContain("no-store");
    const again = await (await fetch(`${stack.url}/team`, { headers: { cookie } })).text();
    expect(again).toContain("laptop");
    expect(again).not.toContain(token!);
    const tokenId = (
      await stack.db.apiToken.findFirstOrThrow({ where: { teamId: team.id, label: "laptop" } })
    ).id;
    const revoked = await post(`/team/tokens/${tokenId}/revoke`, {}, { cookie });
    expect(revoked.status).toBe(303);
    expect(
      (await fetch(`${stack.url}/api/v1/quota`, { headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(401);
    const other = await stack.createTeam();
    const otherCookie = await sessionCookieFor(stack.db, { teamId: other.id });
    const foreign = await post(`/team/tokens/${tokenId}/revoke`, {}, { cookie: otherCookie });
    expect(foreign.status).toBe(404);
  });

  it("says on the team page when the team's oldest counted submission stops counting", async () => {
    const team = await stack.createTeam();
    const cookie = await sessionCookieFor(stack.db, { teamId: team.id });
    const now = Date.now();
    const made = async (hoursAgo: number, state: "queued" | "failed", refunded = false) => {
      const id = await seedSubmission(stack.db, {
        competitionId: stack.competition.id,
        teamId: team.id,
        model: uniqueName("quota"),
        state,
        ...(state === "failed" ? { failure: { category: "infrastructure", message: "lost", refunded } } : {}),
      });
      const createdAt = new Date(now - hoursAgo * 3600_000);
      await stack.db.submission.update({ where: { id }, data: { createdAt } });
      return createdAt;
    };
    await made(30, "queued"); // out of the rolling window
    await made(3, "failed", true); // refunded: never counted
    const oldest = await made(2, "queued");
    await made(1, "queued");
    const html = await (await fetch(`${stack.url}/team`, { headers: { cookie } })).text();
    expect(html).toContain(
      `Your oldest submission of the last 24 hours stops counting at ${formatDateTime(new Date(oldest.getTime() + 24 * 3600_000))}.`,
    );
  });

  it("says so next to the label when the team already holds as many live tokens as allowed", async () => {
    const team = await stack.createTeam();
    const cookie = await sessionCookieFor(stack.db, { teamId: team.id });
    // createTeam issued the first; nine more reach the default cap of ten.
    for (let i = 0; i < 9; i++)
      expect((await post("/team/tokens", { label: `t${i}` }, { cookie })).status).toBe(201);
    const refused = await post("/team/tokens", { label: "one too many" }, { cookie });
    expect(refused.status).toBe(409);
    expect(await refused.text()).toMatch(/id="token-label-error">at most 10 API tokens may be live at once/);
    expect(await stack.db.apiToken.count({ where: { teamId: team.id, revokedAt: null } })).toBe(10);
  });
});

describe("submission page", () => {
  let stack: Stack;
  let owner: { id: string; token: string };
  let ownerCookie: string;
  let otherCookie: string;
  let organizerCookie: string;

  beforeAll(async () => {
    stack = await startStack();
    owner = await stack.createTeam();
    ownerCookie = await sessionCookieFor(stack.db, { teamId: owner.id });
    otherCookie = await sessionCookieFor(stack.db, { teamId: (await stack.createTeam()).id });
    organizerCookie = await sessionCookieFor(stack.db, { accountId: (await stack.createOrganizer()).id });
  });
  afterAll(() => stack?.close());

  const page = (id: string, cookie?: string, accept = "text/html") =>
    fetch(`${stack.url}/submissions/${id}`, { headers: { accept, ...(cookie ? { cookie } : {}) } });

  it("explains every failure category in plain words, with what to do next", async () => {
    const categories = [
      "invalid_upload",
      "image_rejected",
      "timeout",
      "out_of_memory",
      "nonzero_exit",
      "no_output",
      "invalid_output",
      "infrastructure",
    ];
    const titles = new Set<string>();
    for (const category of categories) {
      const id = await seedSubmission(stack.db, {
        competitionId: stack.competition.id,
        teamId: owner.id,
        model: `Failing ${category}`,
        state: "failed",
        failure: { category, message: `detail for ${category}` },
      });
      const html = await (await page(id, ownerCookie)).text();
      expect(html).toContain(`data-category="${category}"`);
      expect(html).toContain("What to do next:");
      expect(html).toContain(`detail for ${category}`);
      const title = /<div class="notice bad" id="failure"[^>]*>\s*<h3>([^<]+)<\/h3>/.exec(html)?.[1];
      expect(title).toBeDefined();
      titles.add(title!);
    }
    expect(titles.size).toBe(categories.length);
  });

  it("says a smoke-run failure was refunded and shows the smoke log", async () => {
    const id = await seedSubmission(stack.db, {
      competitionId: stack.competition.id,
      teamId: owner.id,
      model: "Smoke fail",
      state: "failed",
      failure: { category: "nonzero_exit", message: "exit status 1", phase: "smoke", refunded: true },
      smokeLog: "Traceback (most recent call last):\n  ModuleNotFoundError: No module named 'torch'",
    });
    const html = await (await page(id, ownerCookie)).text();
    expect(html).toContain("This happened in the smoke run");
    expect(html).toContain("does not count against your quota");
    expect(html).toContain("Smoke run log");
    expect(html).toContain("No module named &#39;torch&#39;");
  });

  it("shows a scored submission's per-task table and ROC and PR plots with the radiologists", async () => {
    const id = await seedScored(stack.db, {
      competitionId: stack.competition.id,
      teamId: owner.id,
      model: "Plotted",
      meanAuc: 0.9,
      ci: [0.88, 0.92],
      curves: true,
    });
    // While the competition is open, the team gets its table and no hidden-set plot.
    const own = await (await page(id, ownerCookie)).text();
    expect(own).toContain("95% CI 0.880–0.920");
    expect(own).not.toContain('<svg class="plot"');
    expect(own).toContain('id="plots-later"');
    // Organizers see the plots at any time.
    const html = await (await page(id, organizerCookie)).text();
    expect(html).toContain("95% CI 0.880–0.920");
    for (const task of TASKS) expect(html).toContain(`<th scope="row">${task}</th>`);
    // Sizes in binary units, as everywhere Holdout prints one (the seeded upload is 1234 bytes).
    expect(html).toContain("<dt>Upload</dt><dd>1.2 KiB, SHA-256");
    expect(html.match(/<svg class="plot"[^>]*role="img"/g)).toHaveLength(10); // ROC + PR per task
    expect(html.match(/<title id="plot-roc-\d-title">ROC curve, [^<]+<\/title>/g)).toHaveLength(5);
    expect(html).toMatch(
      /<desc id="plot-roc-0-desc">ROC curve of the model for Atelectasis: AUC 0\.880\. 0 of 3 radiologists lie below/,
    );
    // Three readers and the majority vote on each plot (rad3 has no precision: not on the PR plot).
    const roc0 = html.slice(html.indexOf('id="plot-roc-0-title"'), html.indexOf('id="plot-pr-0-title"'));
    expect(roc0.match(/class="reader reader-/g)).toHaveLength(3);
    expect(roc0.match(/class="majority"/g)).toHaveLength(1);
    const pr0 = html.slice(html.indexOf('id="plot-pr-0-title"'), html.indexOf('id="plot-roc-1-title"'));
    expect(pr0.match(/class="reader reader-/g)).toHaveLength(2);
    expect(html).toContain("Operating points as a table");
    expect(html).toContain('<th scope="row">Majority vote</th>');
    // A scored page loads the live-status script only for its team, and it has nothing to follow.
    expect(own).toContain('data-final="true"');
  });

  it("renders a result without stored curves or intervals gracefully", async () => {
    const id = await seedScored(stack.db, {
      competitionId: stack.competition.id,
      teamId: owner.id,
      model: "Old Style",
      meanAuc: 0.85,
      ci: null,
    });
    const res = await page(id, organizerCookie);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html.match(/<svg class="plot"/g)).toHaveLength(5); // ROC only
    expect(html).not.toContain("95% CI 0");
  });

  it("shows others' private submissions to nobody (404) and listed ones without private parts", async () => {
    const secret = await seedSubmission(stack.db, {
      competitionId: stack.competition.id,
      teamId: owner.id,
      model: "Secret",
      state: "failed",
      failure: { category: "timeout", message: "ran 3600 s" },
      smokeLog: "private log line",
    });
    for (const cookie of [undefined, otherCookie]) {
      const res = await page(secret, cookie);
      expect(res.status).toBe(404);
      const html = await res.text();
      expect(html).not.toContain("Secret");
      expect(html).toContain("HOLDOUT_ERR_NOT_FOUND");
      const json = await page(secret, cookie, "application/json");
      expect(json.status).toBe(404);
      expect(json.headers.get("content-type")).toContain("application/problem+json");
    }
    expect((await page(secret, organizerCookie)).status).toBe(200);

    const listed = await seedScored(stack.db, {
      competitionId: stack.competition.id,
      teamId: owner.id,
      model: "Public Entry",
      meanAuc: 0.91,
      curves: true,
    });
    await stack.db.submissionLog.create({
      data: { submissionId: listed, phase: "smoke", text: "owner-only log" },
    });
    const pub = await (await page(listed, otherCookie)).text();
    expect(pub).toContain("Public Entry");
    expect(pub).toContain('<table id="tasks">');
    expect(pub).not.toContain("owner-only log");
    expect(pub).not.toContain('<svg class="plot"');
    expect(pub).not.toContain('id="timeline"');
    const own = await (await page(listed, ownerCookie)).text();
    expect(own).toContain("owner-only log");
    expect(own).toContain('id="timeline"');
    expect(own).toContain("Hide from the leaderboard");
  });
});
