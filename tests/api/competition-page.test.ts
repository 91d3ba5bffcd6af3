import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CompetitionPage } from "@holdout/contracts/http";
import { createCompetition, listAudit } from "@holdout/db";
import { seedScored } from "../support/browser.ts";
import { BASELINE_IMAGE, TEST_TESTSET_DIR, uniqueName } from "../support/env.ts";
import { callApi, startStack, type Stack } from "../support/stack.ts";

// The competition page's JSON (docs/architecture.md, "The competition page"): what it says is read
// from where it is set, the limits from the workers that apply them, the runtime packages from the
// image itself; a second competition's page is its own.

describe("the competition page (JSON)", () => {
  let stack: Stack;
  let other: { id: string; slug: string };
  // Values no other test file's worker uses, so this worker's limits are told apart from theirs
  // when test files run side by side on one database.
  const timeout = 293;

  const call = (method: string, path: string, opts: { body?: unknown; token?: string } = {}) =>
    callApi(stack.url, method, path, opts);
  const page = async (path = "/api/v1/competition") => {
    const { status, body } = await call("GET", path);
    expect(status, JSON.stringify(body)).toBe(200);
    return body as unknown as CompetitionPage;
  };

  beforeAll(async () => {
    stack = await startStack();
    // Pinned to the stack's competition: the other competition's page must not show its limits.
    await stack.startWorker({
      HOLDOUT_RUN_TIMEOUT_SECONDS: String(timeout),
      HOLDOUT_RUN_CPUS: "1.5",
      HOLDOUT_RUN_OUTPUT_MB: "48",
      HOLDOUT_WORKER_COMPETITIONS: stack.competition.slug,
    });
    other = await createCompetition(
      stack.db,
      { actor: "test" },
      {
        slug: uniqueName("triage"),
        name: "Triage",
        testsetDir: TEST_TESTSET_DIR,
        testsetSha256: "b".repeat(64),
        scorer: "mean_auc",
        tasks: ["Fracture", "Nodule"],
        aucFloor: 0.6,
        radsDecimals: 2,
        phases: [
          {
            name: "Test",
            data: "hidden",
            feedback: "released",
            startsAt: new Date(Date.now() - 60_000),
            endsAt: new Date(Date.now() + 86_400_000),
            ranked: true,
          },
        ],
      },
    );
  }, 120_000);
  afterAll(() => stack?.close());

  it("states the limits the worker applies, read from its heartbeat", async () => {
    const p = await page();
    const mine = p.limits.workers.find((w) => w.timeoutSeconds === timeout);
    expect(mine).toMatchObject({
      memoryMb: 1024,
      cpus: 1.5,
      outputMb: 48,
      smokeTimeoutSeconds: Math.min(300, timeout),
      network: "none",
      gpus: "none",
      hiddenLog: "none",
    });
    expect(p.limits.uploadMaxBytes).toBe(2 * 1024 ** 3);
    // A worker pinned to another competition is not one of this competition's.
    const theirs = await page(`/api/v1/competitions/${other.slug}/competition`);
    expect(theirs.limits.workers.some((w) => w.timeoutSeconds === timeout)).toBe(false);
  });

  it("lists the runtime image's packages, as the worker read them from the image", async () => {
    let p = await page();
    // The worker lists them in the background after its start.
    for (let i = 0; i < 120 && (p.runtime?.packages.length ?? 0) === 0; i++) {
      await sleep(500);
      p = await page();
    }
    expect(p.runtime?.image).toBe(BASELINE_IMAGE);
    const names = new Set(p.runtime!.packages.map((x) => `${x.source}:${x.name.toLowerCase()}`));
    // The example image is Debian with python3, numpy and Pillow.
    expect(names).toContain("deb:python3");
    expect(names).toContain("python:numpy");
    expect(p.runtime!.packages.every((x) => x.version.length > 0)).toBe(true);
  });

  it("gives the metric, its precision, the floor, the quota, the phases and how to take part", async () => {
    const p = await page();
    expect(p).toMatchObject({
      slug: stack.competition.slug,
      status: "open",
      metric: {
        scorer: "chexpert",
        tasks: ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"],
      },
      precision: { aucDecimals: 3, radsDecimals: 1 },
      aucFloor: 0.7,
      quota: { perDay: 1000, total: 1000 },
      readers: { published: false, points: [] },
      overview: { standard: true },
      terms: { standard: true },
    });
    expect(p.metric.description).toMatch(/Num Rads Below Curve/);
    expect(p.metric.ranking).toMatch(/0\.001 × Num Rads Below Curve/);
    expect(p.participate.cliInstall).toMatch(
      new RegExp(`^npm install -g ${stack.url}/cli/holdout-cli-[0-9.]+[^ ]*\\.tgz$`),
    );
    expect(p.participate.developmentSet).toBe("holdout testset generate --dev --out devset");
    expect(p.phases).toHaveLength(1);
    // The install line names the package the server serves.
    const cli = await call("GET", "/api/v1/cli");
    expect(p.participate.cliInstall).toBe(cli.body.install);
  });

  it("shows a second competition's own scorer, tasks, precision and floor", async () => {
    const p = await page(`/api/v1/competitions/${other.slug}/competition`);
    expect(p).toMatchObject({
      slug: other.slug,
      name: "Triage",
      metric: { scorer: "mean-auc", tasks: ["Fracture", "Nodule"] },
      precision: { aucDecimals: 3, radsDecimals: null },
      aucFloor: 0.6,
      readers: null,
      participate: { register: `${stack.url}/c/${other.slug}/register` },
    });
    expect(p.metric.description).toBe("Mean AUC over the 2 label columns Fracture, Nodule.");
    expect(p.participate.developmentSet).toMatch(/--scorer mean-auc/);
  });

  it("publishes the radiologists' operating points only once the competition is closed", async () => {
    const c = await createCompetition(
      stack.db,
      { actor: "test" },
      {
        slug: uniqueName("readers"),
        name: "Readers",
        testsetDir: TEST_TESTSET_DIR,
        testsetSha256: "c".repeat(64),
        phases: [
          {
            name: "Test",
            data: "hidden",
            feedback: "released",
            startsAt: new Date(Date.now() - 60_000),
            endsAt: null,
            ranked: true,
          },
        ],
      },
    );
    const t = await stack.db.team.create({
      data: { competitionId: c.id, name: "R", nameKey: uniqueName("r") },
    });
    await seedScored(stack.db, {
      competitionId: c.id,
      teamId: t.id,
      model: "m",
      meanAuc: 0.85,
      curves: true,
    });
    const open = await page(`/api/v1/competitions/${c.slug}/competition`);
    expect(open.readers).toMatchObject({ published: false, points: [] });

    await stack.db.competition.update({
      where: { id: c.id },
      data: { state: "closed", closedAt: new Date() },
    });
    const closed = await page(`/api/v1/competitions/${c.slug}/competition`);
    expect(closed.readers?.published).toBe(true);
    expect(closed.readers?.points).toContainEqual({
      task: "Atelectasis",
      reader: "rad2",
      sensitivity: 0.85,
      specificity: 0.75,
    });
    expect(closed.readers?.points).toHaveLength(5 * 3);
  });

  it("takes the organizers' prose and terms, refuses teams, and shows the edit at once", async () => {
    const organizer = await stack.createOrganizer();
    const team = await stack.createTeam();
    const api = `/api/v1/competitions/${other.slug}`;
    const refused = await call("PATCH", `${api}/admin/competition/page`, {
      token: team.token,
      body: { overview: "mine" },
    });
    expect(refused.status).toBe(401);

    const terms = `Triage terms ${uniqueName("v")}: **no** re-identification.`;
    const saved = await call("PATCH", `${api}/admin/competition/page`, {
      token: organizer.token,
      body: { overview: "# Triage\n\nFind fractures.", terms },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    const p = await page(`${api}/competition`);
    expect(p.overview).toEqual({ markdown: "# Triage\n\nFind fractures.", standard: false });
    expect(p.terms).toEqual({ markdown: terms, standard: false });
    expect(p.data.standard).toBe(true);
    // The default competition keeps its own (standard) terms.
    expect((await page()).terms.standard).toBe(true);

    // An empty part puts the standard text back.
    await call("PATCH", `${api}/admin/competition/page`, { token: organizer.token, body: { overview: " " } });
    expect((await page(`${api}/competition`)).overview.standard).toBe(true);

    const audit = await listAudit(stack.db, other.id, { limit: 10 });
    expect(audit.filter((e) => e.action === "competition.page").map((e) => e.detail)).toEqual([
      "changed: pageOverview",
      "changed: pageOverview, terms",
    ]);

    const tooLong = await call("PATCH", `${api}/admin/competition/page`, {
      token: organizer.token,
      body: { rules: "x".repeat(20_001) },
    });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.detail).toMatch(/rules/);
  });

  it(
    "takes the terms when an organizer creates a competition over the API",
    { timeout: 60_000 },
    async () => {
      const organizer = await stack.createOrganizer();
      const slug = uniqueName("withterms");
      const terms = "Research use only; **no** redistribution.";
      const created = await call("POST", "/api/v1/admin/competitions", {
        token: organizer.token,
        body: { slug, name: "With terms", testsetDir: TEST_TESTSET_DIR, terms },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const p = await page(`/api/v1/competitions/${slug}/competition`);
      expect(p.terms).toEqual({ markdown: terms, standard: false });
      const register = await fetch(`${stack.url}/c/${slug}/register`, { headers: { accept: "text/html" } });
      expect(await register.text()).toContain("Research use only; <strong>no</strong> redistribution.");
    },
  );

  it("is in the OpenAPI document", async () => {
    const res = await fetch(`${stack.url}/docs/openapi.json`);
    const doc = (await res.json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/api/v1/competition", "/api/v1/admin/competition/page"]),
    );
  });
});
