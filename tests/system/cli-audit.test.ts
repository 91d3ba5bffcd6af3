import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentSha256 } from "@holdout/testset";
import { loadHiddenTestset } from "@holdout/worker";
import { launchBrowser } from "../support/browser.ts";
import { holdout } from "../support/cli.ts";
import { BASELINE_TARBALL, TEST_DATABASE_URL, TEST_TESTSET_DIR } from "../support/env.ts";
import { TEST_DEVSET_DIR } from "../support/global-setup.ts";
import { blurred, scoreSeeded } from "../support/predictions.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

// `holdout audit` re-scores stored predictions with the worker's own code and says that every
// stored figure is bit-identical, or which differ; a test set whose content changed since a score
// marks it (the team's page says so) and a --rescore keeps the figures before and after.
describe("holdout audit", () => {
  let stack: Stack;
  let work: string;
  let team: { id: string; token: string };
  let organizer: { token: string };
  let scored: string; // by the worker, with provenance
  let seeded: string; // recorded without provenance, as before it was kept
  const env = { DATABASE_URL: TEST_DATABASE_URL };
  const sets = ["--testset", TEST_TESTSET_DIR, "--devset", TEST_DEVSET_DIR];
  const audit = (...args: string[]) => holdout(["audit", ...args], env);
  const edema = async () =>
    (
      await stack.db.taskResult.findUniqueOrThrow({
        where: { submissionId_task: { submissionId: scored, task: "Edema" } },
      })
    ).auc;

  /** The submission's entry on the public leaderboard (the split's public part while open). */
  const boardEntry = async (id: string) => {
    const board = (await (await fetch(`${stack.url}/api/v1/leaderboard`)).json()) as {
      entries: { submissionId: string; earlierTestset: boolean }[];
    };
    const entry = board.entries.find((e) => e.submissionId === id);
    if (!entry) throw new Error(`${id} is not on the leaderboard`);
    return entry;
  };

  beforeAll(async () => {
    stack = await startStack({ worker: true });
    work = await mkdtemp(path.join(os.tmpdir(), "holdout-audit-"));
    // A split: the parts' figures are audited too.
    await stack.db.competition.update({
      where: { id: stack.competition.id },
      data: { splitFraction: 0.5, splitSeed: 11 },
    });
    team = await stack.createTeam();
    organizer = await stack.createOrganizer();
    const up = await uploadImage(stack.url, team.token, BASELINE_TARBALL, { model: "Audited baseline" });
    expect(up.status).toBe(202);
    scored = up.body.id;
    expect((await waitForFinal(stack.url, team.token, scored)).state).toBe("scored");
    const testset = await loadHiddenTestset(TEST_TESTSET_DIR);
    seeded = await scoreSeeded(stack, testset, team.id, blurred(testset, 2, 5), {
      replicates: 2000,
      seed: 20_190_101,
    });
  }, 300_000);
  afterAll(async () => {
    await stack?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("finds every figure of every scored submission bit-identical", async () => {
    const r = await audit("--all", "--competition", stack.competition.slug, ...sets);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`submission ${scored}: bit-identical (`);
    expect(r.stdout).toContain(`submission ${seeded}: bit-identical (`);
    expect(r.stdout).toMatch(/no provenance recorded/);
    // Every figure is stored exactly, curves and JSON columns included.
    expect(r.stdout).not.toMatch(/16 significant digits/);
    expect(r.stdout).toMatch(/2 submission\(s\) checked; every figure is bit-identical/);
    const json = await audit(scored, seeded, ...sets, "--json");
    expect(json.code, json.stderr).toBe(0);
    const results = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { outcome: string; compared: number });
    // Means and interval, 5 tasks × (4 figures + 2 curves), 2 parts × (5 figures + 5 tasks × 4).
    expect(results.map((x) => [x.outcome, x.compared])).toEqual([
      ["identical", 5 + 5 * 6 + 2 * (5 + 20)],
      ["identical", 5 + 5 * 6 + 2 * (5 + 20)],
    ]);
  });

  it("lists a stored figure that was altered, and a --rescore replaces it keeping both", async () => {
    const original = await edema();
    const altered = original + 1e-12;
    await stack.db.taskResult.update({
      where: { submissionId_task: { submissionId: scored, task: "Edema" } },
      data: { auc: altered },
    });
    const r = await audit(scored, ...sets);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`submission ${scored}: 1 of 85 figures differ`);
    expect(r.stdout).toMatch(new RegExp(`Edema\\.auc +${String(altered)}  →  ${String(original)}`));

    const fixed = await audit(scored, ...sets, "--rescore");
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    expect(fixed.stdout).toMatch(/re-scored: .* both are kept in its history/);
    expect(await edema()).toBe(original);
    const detail = (await (
      await fetch(`${stack.url}/api/v1/submissions/${scored}`, {
        headers: { authorization: `Bearer ${organizer.token}` },
      })
    ).json()) as {
      scoreRevisions: {
        actor: string;
        previous: { tasks: { task: string; auc: number }[] };
        next: { tasks: { task: string; auc: number }[] };
      }[];
    };
    expect(detail.scoreRevisions).toHaveLength(1);
    const [revision] = detail.scoreRevisions;
    expect(revision!.actor).toMatch(/^cli:/);
    expect(revision!.previous.tasks.find((t) => t.task === "Edema")?.auc).toBe(altered);
    expect(revision!.next.tasks.find((t) => t.task === "Edema")?.auc).toBe(original);
    expect((await audit(scored, ...sets)).code).toBe(0);
    // The history's full-precision figures are on the organizers' page, never on the team's.
    const pageFor = async (token: string) =>
      (
        await fetch(`${stack.url}/submissions/${scored}`, { headers: { authorization: `Bearer ${token}` } })
      ).text();
    const fullMean = String((await stack.db.submission.findUniqueOrThrow({ where: { id: scored } })).meanAuc);
    expect(fullMean.length).toBeGreaterThan(8);
    const organizerPage = await pageFor(organizer.token);
    expect(organizerPage).toContain('id="score-revisions"');
    expect(organizerPage).toContain(fullMean);
    const teamPage = await pageFor(team.token);
    expect(teamPage).not.toContain('id="score-revisions"');
    expect(teamPage).not.toContain(fullMean);
    const teamView = await (
      await fetch(`${stack.url}/api/v1/submissions/${scored}`, {
        headers: { authorization: `Bearer ${team.token}` },
      })
    ).text();
    expect(teamView).not.toContain("scoreRevisions");
  });

  it("marks a score made on a previous version of the test set, until a re-score", async () => {
    const before = await contentSha256(TEST_TESTSET_DIR);
    const changed = path.join(work, "corrected");
    await cp(TEST_TESTSET_DIR, changed, { recursive: true });
    // A label correction: the first study's Edema flipped.
    const gtFile = path.join(changed, "private", "groundtruth.csv");
    const [header, first, ...rest] = (await readFile(gtFile, "utf8")).split("\n");
    const edemaColumn = header!.split(",").indexOf("Edema");
    const cells = first!.split(",");
    cells[edemaColumn] = cells[edemaColumn] === "1" ? "0" : "1";
    await writeFile(gtFile, [header, cells.join(","), ...rest].join("\n"));
    const after = await contentSha256(changed);
    // Read once before the audit, so the cached board must notice the mark.
    expect((await boardEntry(scored)).earlierTestset).toBe(false);

    const r = await audit(scored, "--testset", changed);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`test set changed: scored on ${before}, now ${after}`);
    const provenance = await stack.db.scoreProvenance.findUniqueOrThrow({ where: { submissionId: scored } });
    expect(provenance.testsetChangedAt).not.toBeNull();
    expect(provenance.currentTestsetSha256).toBe(after);
    const page = await (
      await fetch(`${stack.url}/submissions/${scored}`, {
        headers: { authorization: `Bearer ${team.token}` },
      })
    ).text();
    expect(page).toContain("Scored on a previous version of the test set.");
    const view = (await (
      await fetch(`${stack.url}/api/v1/submissions/${scored}`, {
        headers: { authorization: `Bearer ${team.token}` },
      })
    ).json()) as { provenance: { testsetChanged: { currentSha256: string } | null } };
    expect(view.provenance.testsetChanged?.currentSha256).toBe(after);
    // The public leaderboard marks the score in JSON, CSV and on the page (others unmarked).
    expect((await boardEntry(scored)).earlierTestset).toBe(true);
    expect((await boardEntry(seeded)).earlierTestset).toBe(false);
    const csv = (await (await fetch(`${stack.url}/leaderboard.csv`)).text()).split("\r\n");
    expect(csv[0]!.split(",").at(-1)).toBe("earlier_test_set");
    expect(csv.filter((line) => line.endsWith(",TRUE")).length).toBe(1);
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(`${stack.url}/`);
      const mark = page.locator(`tr[data-submission="${scored}"] .earlier-mark`);
      expect(await mark.getAttribute("title")).toBe(
        "Scored on an earlier version of the test set; not yet re-scored",
      );
      expect(await page.locator(`tr[data-submission="${seeded}"] .earlier-mark`).count()).toBe(0);
      expect(await page.locator("caption").textContent()).toContain(
        "marks scores made on an earlier version of the test set, not yet re-scored",
      );
    } finally {
      await browser.close();
    }

    const rescored = await audit(scored, "--testset", changed, "--rescore");
    expect(rescored.code, rescored.stdout + rescored.stderr).toBe(0);
    const revisions = await stack.db.scoreRevision.findMany({
      where: { submissionId: scored },
      orderBy: { id: "asc" },
    });
    expect(revisions.at(-1)).toMatchObject({ previousTestsetSha256: before, testsetSha256: after });
    const now = await stack.db.scoreProvenance.findUniqueOrThrow({ where: { submissionId: scored } });
    expect(now).toMatchObject({ testsetSha256: after, testsetChangedAt: null, currentTestsetSha256: null });
    expect((await boardEntry(scored)).earlierTestset).toBe(false);
    expect((await audit(scored, "--testset", changed)).code).toBe(0);
  });

  it("says what is missing: ids or --all, a set for a competition naming none", async () => {
    expect((await audit()).code).toBe(2);
    const r = await audit(scored);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/names no test set of its own: give --testset DIR/);
  });
});
