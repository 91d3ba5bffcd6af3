import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, TEST_DATABASE_URL, uniqueName } from "../support/env.ts";
import { tarBuffer } from "../support/images.ts";
import { startStack, type Stack } from "../support/stack.ts";

const run = promisify(execFile);

// Registration, passwords, API tokens and browser sessions, over real HTTP.

interface Problem {
  code: string;
  detail: string;
  status: number;
  errors?: { field: string; message: string }[];
}

async function tinyTar(): Promise<Blob> {
  return new Blob([await tarBuffer({ "manifest.json": "[]" })]);
}

describe("accounts: registration, tokens, sessions", () => {
  let stack: Stack;
  let organizer: { token: string };

  beforeAll(async () => {
    stack = await startStack();
    organizer = await stack.createOrganizer();
  });
  afterAll(() => stack?.close());

  async function call(
    method: string,
    path: string,
    opts: { body?: unknown; headers?: Record<string, string> } = {},
  ) {
    const res = await fetch(`${stack.url}${path}`, {
      method,
      headers: {
        ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
        ...opts.headers,
      },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    return { res, body: (text ? JSON.parse(text) : null) as Record<string, unknown> & Problem };
  }
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const registration = (over: Record<string, unknown> = {}) => ({
    name: uniqueName("Team"),
    institution: "Somewhere University",
    email: `${uniqueName("t")}@example.org`,
    password: "correct horse battery",
    acceptTerms: true,
    ...over,
  });
  async function submit(token: string) {
    const fd = new FormData();
    fd.append("model", "m");
    fd.append("image", await tinyTar(), "m.tar");
    const res = await fetch(`${stack.url}/api/v1/submissions`, {
      method: "POST",
      headers: bearer(token),
      body: fd,
    });
    return { res, body: (await res.json()) as Problem & { id: string } };
  }
  const setSettings = (body: Record<string, unknown>) =>
    call("PATCH", "/api/v1/admin/settings", { body, headers: bearer(organizer.token) });

  it("registers a team, stores an argon2id hash, and its token works", async () => {
    const reg = registration({ name: "<b>Équipe</b> 🫁 'or 1=1--", email: "MiXed@Example.org ".trim() });
    const { res, body } = await call("POST", "/api/v1/teams", { body: reg });
    expect(res.status).toBe(201);
    const team = body.team as { id: string; name: string; email: string; approved: boolean };
    expect(team).toMatchObject({ name: reg.name, email: "mixed@example.org", approved: true });
    expect(body.token).toMatch(/^hld_/);
    const row = await stack.db.team.findUniqueOrThrow({ where: { id: team.id } });
    expect(row.name).toBe(reg.name);
    expect(row.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(row.termsAcceptedAt).toBeInstanceOf(Date);
    const me = await call("GET", "/api/v1/session", { headers: bearer(body.token as string) });
    expect(me.body).toMatchObject({ role: "team", team: { id: team.id, approved: true } });
  });

  it.each([
    [{ acceptTerms: false }, 400, "HOLDOUT_ERR_TERMS_NOT_ACCEPTED", /data-use terms/],
    [{ acceptTerms: undefined }, 400, "HOLDOUT_ERR_VALIDATION", /acceptTerms/],
    [{ email: "not-an-email" }, 400, "HOLDOUT_ERR_VALIDATION", /email/],
    [{ password: "short" }, 400, "HOLDOUT_ERR_VALIDATION", /password/],
    [{ name: "   " }, 400, "HOLDOUT_ERR_INVALID_FIELD", /`name` must not be blank/],
    [
      { name: "a\u0000b" },
      400,
      "HOLDOUT_ERR_INVALID_FIELD",
      /U\+0000 NULL \(a control character\), at character 2/,
    ],
    [{ name: "x".repeat(101) }, 400, "HOLDOUT_ERR_VALIDATION", /name/],
  ])("refuses %j → %i %s, creating nothing", async (over, status, code, detail) => {
    const reg = registration(over);
    const { res, body } = await call("POST", "/api/v1/teams", { body: reg });
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(body.code).toBe(code);
    expect(body.detail).toMatch(detail);
    expect(await stack.db.team.count({ where: { contactEmail: String(reg.email).toLowerCase() } })).toBe(0);
  });

  it("refuses a taken team name or email with 409", async () => {
    const first = registration();
    expect((await call("POST", "/api/v1/teams", { body: first })).res.status).toBe(201);
    const sameName = await call("POST", "/api/v1/teams", { body: registration({ name: first.name }) });
    expect([sameName.res.status, sameName.body.code]).toEqual([409, "HOLDOUT_ERR_TEAM_NAME_TAKEN"]);
    const sameEmail = await call("POST", "/api/v1/teams", {
      body: registration({ email: first.email.toUpperCase() }),
    });
    expect([sameEmail.res.status, sameEmail.body.code]).toEqual([409, "HOLDOUT_ERR_EMAIL_TAKEN"]);
  });

  it("refuses a name that reads like a taken one (case, width, spacing, invisible characters), in the database too", async () => {
    const base = uniqueName("Look Alike");
    expect((await call("POST", "/api/v1/teams", { body: registration({ name: base }) })).res.status).toBe(
      201,
    );
    const fullWidth = [...base.toUpperCase()]
      .map((c) => (c >= "!" && c <= "~" ? String.fromCodePoint(c.codePointAt(0)! + 0xfee0) : c))
      .join("");
    for (const name of [
      base.toLowerCase(),
      base.toUpperCase(),
      base.replace(" ", "   "),
      ` ${base}\u3000`,
      fullWidth,
    ]) {
      const { res, body } = await call("POST", "/api/v1/teams", { body: registration({ name }) });
      expect([res.status, body.code], name).toEqual([409, "HOLDOUT_ERR_TEAM_NAME_TAKEN"]);
      expect(body.detail).toMatch(/reads the same/);
    }
    // Invisible characters are refused outright, naming the character and where it is.
    const hidden = await call("POST", "/api/v1/teams", {
      body: registration({ name: base.replace(" ", " \u200b"), institution: "Uni\u202Eevil" }),
    });
    expect([hidden.res.status, hidden.body.code]).toEqual([400, "HOLDOUT_ERR_INVALID_FIELD"]);
    expect(hidden.body.errors).toEqual([
      {
        field: "name",
        message: "must not contain U+200B ZERO WIDTH SPACE (an invisible character), at character 6",
      },
    ]);
    const bidi = await call("POST", "/api/v1/teams", {
      body: registration({ institution: "Uni\u202Eevil" }),
    });
    expect(bidi.body.detail).toBe(
      "field `institution` must not contain U+202E RIGHT-TO-LEFT OVERRIDE (a text-direction control), at character 4",
    );
    // The rule is PostgreSQL's: a look-alike inserted by any other path is refused as well.
    await expect(stack.createTeam(base.toLowerCase())).rejects.toThrow(/is taken/);
    expect(
      await stack.db.team.count({
        where: { competitionId: stack.competition.id, nameKey: base.toLowerCase() },
      }),
    ).toBe(1);
  });

  it("registers two look-alike names sent at once only once", async () => {
    const base = uniqueName("Race Team");
    const answers = await Promise.all(
      [base, base.toUpperCase(), base.toLowerCase(), base.replace(" ", "  ")].map((name) =>
        call("POST", "/api/v1/teams", { body: registration({ name }) }),
      ),
    );
    expect(answers.map((a) => a.res.status).sort()).toEqual([201, 409, 409, 409]);
  });

  it("one team per email, and never an organizer's email; the organizer's sign-in comes first", async () => {
    const org = await stack.createOrganizer();
    const asTeam = await call("POST", "/api/v1/teams", {
      body: registration({ email: org.email.toUpperCase(), password: "team password 1234" }),
    });
    expect([asTeam.res.status, asTeam.body.code]).toEqual([409, "HOLDOUT_ERR_EMAIL_TAKEN"]);
    expect(asTeam.body.detail).toMatch(/organizer account/);

    // A team that got the organizer's address before this rule (written straight to the database)
    // does not shadow the organizer: the organizer signs in, and the team's password opens nothing.
    const legacy = await stack.createTeam();
    const { hashPassword } = await import("@holdout/db");
    await stack.db.team.update({
      where: { id: legacy.id },
      data: { contactEmail: org.email, passwordHash: await hashPassword("legacy team password") },
    });
    const signIn = await call("POST", "/api/v1/tokens", {
      body: { email: org.email, password: org.password },
    });
    expect(signIn.res.status).toBe(201);
    const me = await call("GET", "/api/v1/session", { headers: bearer(signIn.body.token as string) });
    expect(me.body).toMatchObject({ role: "organizer", account: { email: org.email } });
    const shadow = await call("POST", "/api/v1/tokens", {
      body: { email: org.email, password: "legacy team password" },
    });
    expect([shadow.res.status, shadow.body.code]).toEqual([401, "HOLDOUT_ERR_INVALID_CREDENTIALS"]);

    // The other way round: the CLI will not make an organizer of a team's address.
    const reg = registration();
    expect((await call("POST", "/api/v1/teams", { body: reg })).res.status).toBe(201);
    const cli = await run(
      "bash",
      [
        "-c",
        `printf 'a long organizer password\\n' | node apps/cli/bin/holdout.js admin create --email ${reg.email} --password-stdin`,
      ],
      { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL } },
    ).catch((err: { code: number; stderr: string }) => err);
    expect(cli).toMatchObject({ code: 2 });
    expect((cli as { stderr: string }).stderr).toMatch(/a team uses this email/);
  });

  it("new competitions require approval of teams by default", async () => {
    const { ensureCompetition } = await import("@holdout/db");
    const fresh = await ensureCompetition(stack.db, { slug: uniqueName("fresh"), name: "Fresh" });
    expect(fresh.requireApproval).toBe(true);
    await stack.db.competition.delete({ where: { id: fresh.id } });
  });

  it("caps a team's live API tokens; revoking one makes room", async () => {
    const reg = registration();
    const { body: created } = await call("POST", "/api/v1/teams", { body: reg });
    const issue = () =>
      call("POST", "/api/v1/tokens", { body: { email: reg.email, password: reg.password } });
    // Registration issued the first; nine more reach the default cap of ten, in parallel.
    const nine = await Promise.all(Array.from({ length: 9 }, issue));
    expect(nine.map((a) => a.res.status)).toEqual(Array(9).fill(201));
    const over = await issue();
    expect([over.res.status, over.body.code]).toEqual([409, "HOLDOUT_ERR_TOO_MANY_TOKENS"]);
    expect(over.body.detail).toMatch(/at most 10 API tokens .* revoke one/);
    const bySession = await call("POST", "/api/v1/tokens", {
      body: { label: "one more" },
      headers: bearer(created.token as string),
    });
    expect([bySession.res.status, bySession.body.code]).toEqual([409, "HOLDOUT_ERR_TOO_MANY_TOKENS"]);
    const first = nine[0]!.body as unknown as { id: string };
    await call("DELETE", `/api/v1/tokens/${first.id}`, { headers: bearer(created.token as string) });
    expect((await issue()).res.status).toBe(201);
    const teamId = (created.team as { id: string }).id;
    expect(await stack.db.apiToken.count({ where: { teamId, revokedAt: null } })).toBe(10);
  });

  it("closed registration admits no one; approval gates submitting", async () => {
    expect((await setSettings({ registrationOpen: false })).res.status).toBe(200);
    const closed = await call("POST", "/api/v1/teams", { body: registration() });
    expect([closed.res.status, closed.body.code]).toEqual([403, "HOLDOUT_ERR_REGISTRATION_CLOSED"]);

    await setSettings({ registrationOpen: true, requireApproval: true });
    const { body } = await call("POST", "/api/v1/teams", { body: registration() });
    const team = body.team as { id: string; approved: boolean };
    expect(team.approved).toBe(false);
    const refused = await submit(body.token as string);
    expect(refused.res.status).toBe(403);
    expect(refused.body.code).toBe("HOLDOUT_ERR_TEAM_NOT_APPROVED");
    expect(refused.body.detail).toMatch(/approve/);
    expect(await stack.db.submission.count({ where: { teamId: team.id } })).toBe(0);

    // A team cannot approve itself; an organizer can.
    const self = await call("POST", `/api/v1/admin/teams/${team.id}/approve`, {
      headers: bearer(body.token as string),
    });
    expect(self.res.status).toBe(403);
    const ok = await call("POST", `/api/v1/admin/teams/${team.id}/approve`, {
      headers: bearer(organizer.token),
    });
    expect(ok.res.status).toBe(204);
    const accepted = await submit(body.token as string);
    expect(accepted.res.status).toBe(202);
    await setSettings({ requireApproval: false });
  });

  it("issues tokens for email + password, lists them with their last use, and revokes them", async () => {
    const reg = registration();
    const { body: created } = await call("POST", "/api/v1/teams", { body: reg });

    const wrong = await call("POST", "/api/v1/tokens", {
      body: { email: reg.email, password: "wrong password!" },
    });
    expect([wrong.res.status, wrong.body.code]).toEqual([401, "HOLDOUT_ERR_INVALID_CREDENTIALS"]);
    const nobody = await call("POST", "/api/v1/tokens", {
      body: { email: "nobody@example.org", password: reg.password },
    });
    expect(nobody.body.detail).toBe(wrong.body.detail);

    const issued = await call("POST", "/api/v1/tokens", {
      body: { email: reg.email, password: reg.password, label: "laptop" },
    });
    expect(issued.res.status).toBe(201);
    const second = issued.body as unknown as { id: string; token: string; prefix: string };
    expect(second.token.startsWith(second.prefix)).toBe(true);

    await call("GET", "/api/v1/submissions", { headers: bearer(second.token) });
    const list = await call("GET", "/api/v1/tokens", { headers: bearer(created.token as string) });
    const tokens = list.body.tokens as { id: string; label: string | null; lastUsedAt: string | null }[];
    expect(tokens).toHaveLength(2);
    expect(JSON.stringify(list.body)).not.toContain(second.token);
    expect(tokens.find((t) => t.id === second.id)).toMatchObject({ label: "laptop" });
    expect(tokens.find((t) => t.id === second.id)?.lastUsedAt).not.toBeNull();

    const revoke = await call("DELETE", `/api/v1/tokens/${second.id}`, {
      headers: bearer(created.token as string),
    });
    expect(revoke.res.status).toBe(204);
    const after = await call("GET", "/api/v1/submissions", { headers: bearer(second.token) });
    expect([after.res.status, after.body.code]).toEqual([401, "HOLDOUT_ERR_UNAUTHORIZED"]);
    const again = await call("DELETE", `/api/v1/tokens/${second.id}`, {
      headers: bearer(created.token as string),
    });
    expect(again.res.status).toBe(404);

    // Another team cannot revoke (or learn of) this team's tokens.
    const other = await stack.createTeam();
    const foreign = await call("DELETE", `/api/v1/tokens/${tokens[1]?.id ?? ""}`, {
      headers: bearer(other.token),
    });
    expect(foreign.res.status).toBe(404);
  });

  it("signs in with an httpOnly SameSite=Lax cookie, and signs out", async () => {
    const reg = registration();
    await call("POST", "/api/v1/teams", { body: reg });
    const login = await call("POST", "/api/v1/session", {
      body: { email: reg.email, password: reg.password },
    });
    expect(login.res.status).toBe(200);
    const setCookie = login.res.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^holdout_session=hld_[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
    const cookie = { cookie: setCookie.split(";")[0] ?? "" };

    const me = await call("GET", "/api/v1/session", { headers: cookie });
    expect(me.body).toMatchObject({ role: "team", team: { name: reg.name } });
    expect((await call("GET", "/api/v1/quota", { headers: cookie })).res.status).toBe(200);

    const out = await call("DELETE", "/api/v1/session", { headers: cookie });
    expect(out.res.status).toBe(204);
    expect(out.res.headers.get("set-cookie")).toMatch(/^holdout_session=; .*Max-Age=0/);
    const stale = await call("GET", "/api/v1/session", { headers: cookie });
    expect(stale.res.status).toBe(401);
    // A stale cookie does not break public pages.
    expect((await call("GET", "/api/v1/leaderboard", { headers: cookie })).res.status).toBe(200);
  });

  it("organizers are created from the CLI and sign in like anyone", async () => {
    const email = `${uniqueName("org")}@example.org`;
    const cli = await run(
      "bash",
      [
        "-c",
        `printf 'a long organizer password\\n' | node apps/cli/bin/holdout.js admin create --email ${email} --password-stdin --json`,
      ],
      { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL } },
    );
    expect(JSON.parse(cli.stdout)).toMatchObject({ email, role: "organizer" });
    const issued = await call("POST", "/api/v1/tokens", {
      body: { email, password: "a long organizer password" },
    });
    expect(issued.res.status).toBe(201);
    const me = await call("GET", "/api/v1/session", { headers: bearer(issued.body.token as string) });
    expect(me.body).toMatchObject({ role: "organizer", account: { email } });
    // Organizers do not submit.
    const refused = await submit(issued.body.token as string);
    expect([refused.res.status, refused.body.code]).toEqual([403, "HOLDOUT_ERR_FORBIDDEN"]);

    const dup = await run(
      "bash",
      [
        "-c",
        `printf 'another long password\\n' | node apps/cli/bin/holdout.js admin create --email ${email} --password-stdin`,
      ],
      { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL } },
    ).catch((err: { code: number; stderr: string }) => err);
    expect(dup).toMatchObject({ code: 2 });
    expect((dup as { stderr: string }).stderr).toMatch(/already exists/);
  });
});
