import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatDateTime } from "../../apps/api/src/web/format.ts";
import { seedScored, seedSubmission, sessionCookieFor } from "../support/browser.ts";
import { uniqueName } from "../support/env.ts";
import { startStack, type Stack } from "../support/stack.ts";

// The sign-in, registration and token forms as a browser without JavaScript posts them: field
// errors next to their fields, CSRF refused, tokens shown once.

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
