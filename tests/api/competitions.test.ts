import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCompetition, type NewCompetition, type PhaseSpec } from "@holdout/db";
import { TEST_TESTSET_DIR, uniqueName } from "../support/env.ts";
import { tarBuffer } from "../support/images.ts";
import { seedScoredEntries } from "../support/seed.ts";
import { callApi, startStack, type ApiBody, type Stack } from "../support/stack.ts";

// Several competitions on one server (docs/architecture.md, "The HTTP API"): each under its own
// URLs with its own teams, quotas, phases and leaderboard, nothing crossing between them, while
// the top-level URLs keep serving the default competition.

type Json = ApiBody;

describe("competitions on one server", () => {
  let stack: Stack;
  let b: { id: string; slug: string };
  let later: { slug: string; opensAt: Date };
  const email = `${uniqueName("both")}@example.org`;

  const call = (method: string, path: string, opts: { body?: unknown; token?: string } = {}) =>
    callApi(stack.url, method, path, opts);
  async function register(api: string, email = `${uniqueName("t")}@example.org`) {
    const { status, body } = await call("POST", `${api}/teams`, {
      body: {
        name: uniqueName("Team"),
        institution: "Somewhere",
        email,
        password: "correct horse battery",
        acceptTerms: true,
      },
    });
    expect(status, JSON.stringify(body)).toBe(201);
    return { token: body.token as string, id: (body.team as { id: string }).id };
  }
  async function submit(api: string, token: string) {
    const fd = new FormData();
    fd.append("model", "m");
    fd.append("image", new Blob([await tarBuffer({ "manifest.json": "[]" })]), "m.tar");
    const res = await fetch(`${stack.url}${api}/submissions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: fd,
    });
    return { status: res.status, body: (await res.json()) as Json };
  }
  const hidden = (startsAt: Date): PhaseSpec => ({
    name: "Test",
    data: "hidden",
    feedback: "released",
    startsAt,
    endsAt: null,
    ranked: true,
  });
  const create = (slug: string, phases: PhaseSpec[], quotaPerDay = 5, more: Partial<NewCompetition> = {}) =>
    createCompetition(
      stack.db,
      { actor: "test" },
      {
        slug,
        name: `Competition ${slug}`,
        testsetDir: TEST_TESTSET_DIR,
        testsetSha256: "a".repeat(64),
        phases,
        requireApproval: false,
        quotaPerDay,
        ...more,
      },
    );

  beforeAll(async () => {
    stack = await startStack();
    b = await create(uniqueName("b"), [hidden(new Date(Date.now() - 60_000))], 1);
    // A competition whose only phase opens in a day (the boundary test makes its own).
    const opensAt = new Date(Date.now() + 86_400_000);
    later = { slug: (await create(uniqueName("later"), [hidden(opensAt)])).slug, opensAt };
  });
  afterAll(() => stack?.close());

  const apiOf = (slug: string) => `/api/v1/competitions/${slug}`;

  it("lists every competition with where it stands and its URLs", async () => {
    const { status, body } = await call("GET", "/api/v1/competitions");
    expect(status).toBe(200);
    const bySlug = new Map((body.competitions as Json[]).map((c) => [c.slug, c]));
    expect(bySlug.get(b.slug)).toMatchObject({
      scorer: "chexpert",
      status: "open",
      currentPhase: { name: "Test", data: "hidden", ranked: true },
      api: apiOf(b.slug),
      pages: `/c/${b.slug}/`,
    });
    expect(bySlug.get(later.slug)).toMatchObject({
      status: "upcoming",
      currentPhase: null,
      nextPhase: { name: "Test", startsAt: later.opensAt.toISOString() },
    });
    expect(bySlug.get(stack.competition.slug)).toMatchObject({ status: "open" });
  });

  it("answers 404 for a competition that does not exist", async () => {
    const { status, body } = await call("GET", `${apiOf("no-such-competition")}/leaderboard`);
    expect(status).toBe(404);
    expect(body.code).toBe("HOLDOUT_ERR_NOT_FOUND");
  });

  it("counts a competition's requests once, under its own route", async () => {
    const unmatched = async () => {
      const text = await (await fetch(`${stack.opsUrl}/metrics`)).text();
      // Every count of requests no route matched (any method and status), summed.
      const counts = text.matchAll(
        /^holdout_http_request_duration_seconds_count\{[^}]*route="\(unmatched\)"[^}]*\} (\d+)$/gm,
      );
      return { text, count: [...counts].reduce((sum, m) => sum + Number(m[1]), 0) };
    };
    const before = await unmatched();
    expect((await call("GET", `${apiOf(b.slug)}/leaderboard`)).status).toBe(200);
    const after = await unmatched();
    expect(after.text).toContain(`route="${apiOf(b.slug)}/leaderboard"`);
    expect(after.count).toBe(before.count);
  });

  it("serves the default competition at its top-level URLs and under its slug alike", async () => {
    const top = await call("GET", "/api/v1/leaderboard");
    const scoped = await call("GET", `${apiOf(stack.competition.slug)}/leaderboard`);
    expect(top.status).toBe(200);
    expect(scoped).toEqual(top);
  });

  it("keeps teams, tokens, submissions and quotas apart; one email registers a team in each", async () => {
    const inB = await register(apiOf(b.slug), email);
    const inDefault = await register("/api/v1", email);

    // Each token works in its own competition only: elsewhere it is unknown.
    expect((await call("GET", `${apiOf(b.slug)}/submissions`, { token: inB.token })).status).toBe(200);
    expect((await call("GET", "/api/v1/submissions", { token: inB.token })).status).toBe(401);
    expect((await call("GET", `${apiOf(b.slug)}/submissions`, { token: inDefault.token })).status).toBe(401);

    const sent = await submit(apiOf(b.slug), inB.token);
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    expect(sent.body.statusUrl).toBe(`${apiOf(b.slug)}/submissions/${sent.body.id as string}`);
    const own = await call("GET", sent.body.statusUrl as string, { token: inB.token });
    expect(own).toMatchObject({ status: 200, body: { id: sent.body.id, model: "m" } });
    // Through the default competition's URLs nobody sees it, not even its owner.
    for (const token of [undefined, inDefault.token]) {
      const other = await call("GET", `/api/v1/submissions/${sent.body.id as string}`, { token });
      expect(other.status).toBe(404);
    }

    // B allows one upload a day; the default competition's quota is its own.
    const quotaB = await call("GET", `${apiOf(b.slug)}/quota`, { token: inB.token });
    expect(quotaB.body).toMatchObject({ remaining: 0, usedInWindow: 1 });
    expect((await submit(apiOf(b.slug), inB.token)).status).toBe(429);
    expect((await submit("/api/v1", inDefault.token)).status).toBe(202);
  });

  it("ranks each competition's entries on its own leaderboard only", async () => {
    const team = await register(apiOf(b.slug));
    const id = randomUUID();
    await seedScoredEntries(stack.db, [
      {
        id,
        competitionId: b.id,
        teamId: team.id,
        modelName: "Only in B",
        meanAuc: 0.91,
        meanRadsBelowCurve: 2,
        createdAt: new Date(),
      },
    ]);
    const boardB = await call("GET", `${apiOf(b.slug)}/leaderboard`);
    expect((boardB.body.entries as Json[]).map((e) => e.submissionId)).toEqual([id]);
    const boardDefault = await call("GET", "/api/v1/leaderboard");
    expect((boardDefault.body.entries as Json[]).map((e) => e.submissionId)).not.toContain(id);
    expect((await call("GET", `/api/v1/submissions/${id}`)).status).toBe(404);
    expect((await call("GET", `${apiOf(b.slug)}/submissions/${id}`)).status).toBe(200);
  });

  it("refuses uploads before the first phase opens, then takes them once an organizer opens it", async () => {
    // Its only phase opens in an hour; the organizer then opens it now (a date moved, not a wait).
    const opensAt = new Date(Date.now() + 3_600_000);
    const soon = (await create(uniqueName("soon"), [hidden(opensAt)])).slug;
    const team = await register(apiOf(soon));
    const early = await submit(apiOf(soon), team.token);
    expect(early.status).toBe(409);
    expect(early.body).toMatchObject({ code: "HOLDOUT_ERR_NO_OPEN_PHASE" });
    expect(early.body.detail).toContain(opensAt.toISOString());
    const organizer = await stack.createOrganizer();
    const opened = await call("PUT", `${apiOf(soon)}/admin/competition/phases`, {
      body: { phases: ["Test,hidden,now,"] },
      token: organizer.token,
    });
    expect(opened.status, JSON.stringify(opened.body)).toBe(200);
    const open = await submit(apiOf(soon), team.token);
    expect(open.status, JSON.stringify(open.body)).toBe(202);
  });

  it("serves each competition's pages under /c/{slug}/ with links that stay there", async () => {
    const res = await fetch(`${stack.url}/c/${b.slug}/`, { headers: { accept: "text/html" } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`Competition ${b.slug}`);
    expect(html).toContain(`href="/c/${b.slug}/register"`);
    expect(html).not.toMatch(/(href|action)="\/(?!c\/|docs|api\/v1\/competitions\/)/);
    expect(html).toContain(`href="${apiOf(b.slug)}/leaderboard"`);
    const css = /href="(\/c\/[^"]+\.css)"/.exec(html)?.[1];
    expect(css).toBeDefined();
    expect((await fetch(`${stack.url}${css}`)).status).toBe(200);
    const submitPage = await fetch(`${stack.url}/c/${b.slug}/submit`, { redirect: "manual" });
    expect(submitPage.headers.get("location")).toBe(
      `/c/${b.slug}/login?next=${encodeURIComponent(`/c/${b.slug}/submit`)}`,
    );
  });

  it("shows a mean-auc competition's own task columns, without the radiologists' column", async () => {
    const slug = uniqueName("triage");
    const tasks = ["Lung Collapse", "Large Heart"];
    await create(slug, [hidden(new Date(Date.now() - 60_000))], 5, { scorer: "mean_auc", tasks });
    const csv = await (await fetch(`${stack.url}/c/${slug}/leaderboard.csv`)).text();
    expect(csv.replace(/^\uFEFF/, "").split("\r\n")[0]).toBe(
      "rank,date,model,team,institution,link,ensemble,mean_auc,auc_lung_collapse,auc_large_heart,mean_auc_lo,mean_auc_hi,tied_with_leader,auc_lo_lung_collapse,auc_hi_lung_collapse,auc_lo_large_heart,auc_hi_large_heart,submitted_at,baseline,earlier_test_set",
    );
    const page = await fetch(`${stack.url}/c/${slug}/?sort=large-heart`, {
      headers: { accept: "text/html" },
    });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("Ranked by mean AUC over Lung Collapse, Large Heart");
    expect(html).not.toContain("Num Rads Below Curve");
    // Its sort keys are its own: CheXpert's are refused here, and kept on the default board.
    expect((await fetch(`${stack.url}/c/${slug}/?sort=rads`)).status).toBe(400);
    expect((await fetch(`${stack.url}/c/${slug}/?sort=edema`)).status).toBe(400);
    expect((await fetch(`${stack.url}/?sort=edema`)).status).toBe(200);
  });

  it("lets organizers create one over the API, with the command line's checks", async () => {
    const organizer = await stack.createOrganizer();
    const team = await register(apiOf(b.slug));
    const slug = uniqueName("api");
    const body = { slug, name: "Over the API", testsetDir: TEST_TESTSET_DIR };
    expect((await call("POST", "/api/v1/admin/competitions", { body, token: team.token })).status).toBe(401);
    const refused = await call("POST", "/api/v1/admin/competitions", {
      body: { ...body, phases: ["A,hidden,now,+1d", "B,hidden,+1h,"] },
      token: organizer.token,
    });
    expect(refused).toMatchObject({ status: 400, body: { code: "HOLDOUT_ERR_INVALID_FIELD" } });
    expect(refused.body.detail).toMatch(/^phases: phase 2 "B": starts .* before phase 1 "A" ends/);
    const created = await call("POST", "/api/v1/admin/competitions", { body, token: organizer.token });
    expect(created).toMatchObject({ status: 201, body: { slug, api: apiOf(slug), pages: `/c/${slug}/` } });
    const listed = await call("GET", "/api/v1/competitions");
    expect((listed.body.competitions as Json[]).find((c) => c.slug === slug)).toMatchObject({
      status: "open",
      currentPhase: { name: "Hidden test set" },
    });
    expect((await call("GET", `${apiOf(slug)}/leaderboard`)).status).toBe(200);
  });
});
