import { openAsBlob } from "node:fs";
import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { leaderTiesJobOptions, QUEUE_LEADER_TIES } from "@holdout/contracts";
import type { QuotaView, RankedLeaderboard } from "@holdout/contracts/http";
import { loadHiddenTestset, type HiddenTestset } from "@holdout/worker";
import { holdout } from "../support/cli.ts";
import {
  BASELINE_TARBALL,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  TEST_TESTSET_DIR,
  uniqueName,
} from "../support/env.ts";
import { CONSTANT_PREDICTIONS, tinyShellModelTarball } from "../support/images.ts";
import { blurred, scoreSeeded, until } from "../support/predictions.ts";
import { startStack, waitForFinal, type Stack } from "../support/stack.ts";

// Baselines through the real API, CLI and worker: an organizer's entries (the official board's
// "Stanford Baseline") are checked, run and scored as a team's, marked on the board in HTML, JSON and
// CSV, charged to no quota, ranked like any entry, and never the leader the tie marks compare with.

const BOOTSTRAP = { replicates: 1000, seed: 20_190_101 };
const SUBMISSION = /submission ([0-9a-f-]{36}): (\w+)/;

describe("baselines", () => {
  let stack: Stack;
  let testset: HiddenTestset;
  let organizer: { token: string };
  let low: { id: string; token: string };
  let high: { id: string; token: string };
  const lowName = uniqueName("low-team");
  const name = uniqueName("Stanford Baseline");
  const ids: Record<string, string> = {};

  const api = (path: string, token: string | null, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${stack.url}${path}`, {
      method: init.method ?? "GET",
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  const board = async () => (await (await api("/api/v1/leaderboard", null)).json()) as RankedLeaderboard;
  const entryOf = (b: RankedLeaderboard, id: string) => b.entries.find((e) => e.submissionId === id);
  const quotaOf = async (token: string) => (await (await api("/api/v1/quota", token)).json()) as QuotaView;
  /** The board page's row of a submission, as HTML. */
  const pageRow = async (id: string) => {
    const html = await (await fetch(`${stack.url}/`, { headers: { accept: "text/html" } })).text();
    return { html, row: new RegExp(`<tr data-submission="${id}">.*?</tr>`).exec(html)?.[0] ?? "" };
  };
  const uploadTo = async (path: string, token: string, file: string) => {
    const form = new FormData();
    form.append("model", "Baseline model");
    form.append("image", await openAsBlob(file), "model.tar");
    return fetch(`${stack.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: form,
    });
  };

  beforeAll(async () => {
    // One submission per team in all: a baseline's entries must not need any. Floor 0: every
    // entry is listed, the ones below the baseline too.
    stack = await startStack({ worker: true, aucFloor: 0, quota: { perDay: 1, total: 1 } });
    testset = await loadHiddenTestset(TEST_TESTSET_DIR);
    organizer = await stack.createOrganizer();
    low = await stack.createTeam(lowName);
    high = await stack.createTeam();
  });
  afterAll(() => stack?.close());

  it("are for organizers only: a team is refused (403), an anonymous caller asked to sign in (401)", async () => {
    const created = await api("/api/v1/admin/baselines", low.token, { method: "POST", body: { name } });
    expect(created.status).toBe(403);
    expect(await created.json()).toMatchObject({ code: "HOLDOUT_ERR_FORBIDDEN" });
    expect((await api("/api/v1/admin/baselines", null, { method: "POST", body: { name } })).status).toBe(401);
    expect((await api("/api/v1/admin/baselines", low.token)).status).toBe(403);
    const upload = await uploadTo(
      `/api/v1/admin/baselines/${randomUUID()}/submissions`,
      low.token,
      BASELINE_TARBALL,
    );
    expect(upload.status).toBe(403);
    // A participating team's name is not a baseline's to take (a look-alike neither).
    const taken = await api("/api/v1/admin/baselines", organizer.token, {
      method: "POST",
      body: { name: lowName.toUpperCase() },
    });
    expect(taken.status).toBe(409);
    expect(await taken.json()).toMatchObject({ code: "HOLDOUT_ERR_TEAM_NAME_TAKEN" });
    // Bad input names its field; an unknown baseline is a 404 before a byte is kept.
    const blank = await api("/api/v1/admin/baselines", organizer.token, {
      method: "POST",
      body: { name: "   " },
    });
    expect(blank.status).toBe(400);
    expect(await blank.json()).toMatchObject({
      code: "HOLDOUT_ERR_INVALID_FIELD",
      errors: [{ field: "name", message: "must not be blank" }],
    });
    const nowhere = await uploadTo(
      `/api/v1/admin/baselines/${randomUUID()}/submissions`,
      organizer.token,
      BASELINE_TARBALL,
    );
    expect(nowhere.status).toBe(404);
    const where = { competitionId: stack.competition.id };
    expect(await stack.db.team.count({ where: { ...where, baseline: true } })).toBe(0);
    expect(await stack.db.submission.count({ where })).toBe(0);
  });

  it(
    "are scored like any entry, marked on the board, on no quota, ranked, and never the leader",
    { timeout: 420_000 },
    async () => {
      // A team's entry below any baseline (chance level), made before the baseline is scored.
      ids.low = await scoreSeeded(stack, testset, low.id, blurred(testset, 1000, 11), BOOTSTRAP);
      const lowQuota = await quotaOf(low.token);
      expect(lowQuota.remaining).toBe(0);

      const created = await api("/api/v1/admin/baselines", organizer.token, {
        method: "POST",
        body: { name, institution: "Stanford University" },
      });
      expect(created.status).toBe(201);
      const baseline = (await created.json()) as { id: string; name: string; institution: string };
      expect(baseline).toMatchObject({ name, institution: "Stanford University" });
      ids.baselineTeam = baseline.id;
      const again = await api("/api/v1/admin/baselines", organizer.token, { method: "POST", body: { name } });
      expect(again.status).toBe(200);
      expect(((await again.json()) as { id: string }).id).toBe(baseline.id);
      // A team cannot upload under the baseline either.
      expect(
        (await uploadTo(`/api/v1/admin/baselines/${baseline.id}/submissions`, low.token, BASELINE_TARBALL))
          .status,
      ).toBe(403);

      // The first entry by the admin API, the second by `holdout baseline submit`: two, past a
      // quota of one, and the second through the competition's own scope.
      const first = await uploadTo(
        `/api/v1/admin/baselines/${baseline.id}/submissions`,
        organizer.token,
        BASELINE_TARBALL,
      );
      expect(first.status).toBe(202);
      ids.baseline = ((await first.json()) as { id: string }).id;
      const tiny = await tinyShellModelTarball(CONSTANT_PREDICTIONS);
      const cli = await holdout(
        [
          "baseline",
          "submit",
          "--competition",
          stack.competition.slug,
          "--name",
          name,
          "--model",
          "Constant",
          "--image",
          tiny,
        ],
        { HOLDOUT_SERVER: stack.url, HOLDOUT_TOKEN: organizer.token },
      );
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout).toContain(`baseline "${name}" (id ${baseline.id})`);
      ids.constant = SUBMISSION.exec(cli.stdout)![1]!;

      for (const id of [ids.baseline, ids.constant]) {
        const final = await waitForFinal(stack.url, organizer.token, id);
        expect(final.state, JSON.stringify(final.failure)).toBe("scored");
        expect(final).toMatchObject({ baseline: true, team: name });
      }
      // No team's quota moved, and the baseline's entries hold no slot.
      expect(await quotaOf(low.token)).toEqual(lowQuota);
      expect(await stack.db.quotaReservation.count({ where: { teamId: baseline.id } })).toBe(0);

      // The worker refreshed the marks after each score: the team's entry leads, though ranked
      // below the baseline; the baselines carry no mark.
      const before = await board();
      const top = entryOf(before, ids.baseline)!;
      const lowEntry = entryOf(before, ids.low)!;
      expect(top).toMatchObject({
        rank: 1,
        baseline: true,
        tiedWithLeader: null,
        institution: "Stanford University",
      });
      expect(lowEntry.rank).toBeGreaterThan(1);
      expect(lowEntry).toMatchObject({ baseline: false, tiedWithLeader: true });
      expect(entryOf(before, ids.constant)).toMatchObject({ baseline: true, tiedWithLeader: null });
      // Ranked like any entry: dense ranks in score order, baselines included.
      const scores = before.entries.map((e) => e.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
      const page = await pageRow(ids.baseline);
      expect(page.row).toContain('class="baseline-mark"');
      expect(page.html).toContain("marks the organizers' baselines");
      // The team's entry leads: no "tied with the leader" mark on its row, no baseline mark either.
      const lowRow = (await pageRow(ids.low)).row;
      expect(lowRow).not.toBe("");
      expect(lowRow).not.toContain("baseline-mark");
      expect(lowRow).not.toContain("statistically tied");

      // A perfect team entry: it leads, the baseline second, the chance-level entry behind.
      ids.high = await scoreSeeded(stack, testset, high.id, blurred(testset, 0.5, 12), BOOTSTRAP);
      const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
      const ties = new Queue(QUEUE_LEADER_TIES, { connection: redis, prefix: stack.prefix });
      try {
        await ties.add(
          QUEUE_LEADER_TIES,
          { competitionId: stack.competition.id },
          leaderTiesJobOptions(stack.competition.id),
        );
        await until("the new leader's mark", async () =>
          entryOf(await board(), ids.high!)?.tiedWithLeader === true ? true : undefined,
        );
      } finally {
        await ties.close();
        await redis.quit();
      }
      const after = await board();
      expect(entryOf(after, ids.high)).toMatchObject({ rank: 1, baseline: false, tiedWithLeader: true });
      expect(entryOf(after, ids.baseline)).toMatchObject({ rank: 2, baseline: true, tiedWithLeader: null });
      expect(entryOf(after, ids.low)).toMatchObject({ baseline: false, tiedWithLeader: false });
      expect(entryOf(after, ids.low)!.rank).toBeGreaterThan(2);

      // The CSV: a `baseline` column (before the earlier-test-set one), TRUE on the baselines' rows only.
      const csv = (await (await fetch(`${stack.url}/leaderboard.csv`)).text()).replace(/^\uFEFF/, "");
      const [header, ...rows] = csv.split("\r\n").filter((l) => l !== "");
      expect(header).toMatch(/,baseline,earlier_test_set$/);
      const flags = rows.map((r) => r.split(",").at(-2));
      expect(flags).toEqual(after.entries.map((e) => (e.baseline ? "TRUE" : "FALSE")));
      expect(flags.filter((f) => f === "TRUE")).toHaveLength(2);
    },
  );

  it("shows a baseline's board fields to anyone, its whole detail to organizers only", async () => {
    const anyone = (await (await api(`/api/v1/submissions/${ids.baseline}`, null)).json()) as Record<
      string,
      unknown
    >;
    expect(anyone).toMatchObject({ id: ids.baseline, team: name, baseline: true });
    expect(anyone).not.toHaveProperty("upload");
    const team = (await (await api(`/api/v1/submissions/${ids.baseline}`, low.token)).json()) as Record<
      string,
      unknown
    >;
    expect(team).not.toHaveProperty("upload");
    expect((await api(`/api/v1/submissions/${ids.baseline}/log`, low.token)).status).toBe(404);
    const whole = (await (
      await api(`/api/v1/submissions/${ids.baseline}`, organizer.token)
    ).json()) as Record<string, unknown>;
    expect(whole).toHaveProperty("upload");
    // The command's refusals name what to give, before anything is sent.
    const env = { HOLDOUT_SERVER: stack.url, HOLDOUT_TOKEN: organizer.token };
    const noFile = await holdout(["baseline", "submit", "--name", name], env);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain("give exactly one of --image FILE, --bundle FILE");
    const missing = await holdout(["baseline", "submit", "--name", name, "--image", "/nonexistent.tar"], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--image /nonexistent.tar: no such file");
    const listed = await holdout(["baseline", "list"], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(`${name} · Stanford University  (2 entries)`);
    // Nobody signs in as a baseline: no token can be issued for it.
    const token = await holdout(["team", "token", "--name", name, "--competition", stack.competition.slug], {
      DATABASE_URL: TEST_DATABASE_URL,
    });
    expect(token.code).toBe(2);
    expect(token.stderr).toContain("is a baseline");
    const list = (await (await api("/api/v1/admin/baselines", organizer.token)).json()) as {
      baselines: { id: string; submissions: number }[];
    };
    expect(list.baselines).toEqual([expect.objectContaining({ id: ids.baselineTeam, submissions: 2 })]);
    // The organizer's pages: the baseline listed, its page with its entries and the upload form.
    const html = (path: string, token: string) =>
      fetch(`${stack.url}${path}`, { headers: { accept: "text/html", authorization: `Bearer ${token}` } });
    expect(await (await html("/admin", organizer.token)).text()).toContain(
      `/admin/baselines/${ids.baselineTeam}`,
    );
    const page = await html(`/admin/baselines/${ids.baselineTeam}`, organizer.token);
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text).toContain(`action="/api/v1/admin/baselines/${ids.baselineTeam}/submissions"`);
    expect(text).toContain(`/submissions/${ids.baseline}`);
    expect((await html(`/admin/baselines/${ids.baselineTeam}`, low.token)).status).toBe(403);
  });
});
