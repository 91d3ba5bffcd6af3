import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAILURE_CATEGORIES } from "@holdout/contracts";
import { TASKS } from "@holdout/scorer";
import { seedScored, seedSubmission, sessionCookieFor } from "../support/browser.ts";
import { startStack, type Stack } from "../support/stack.ts";

// The submission page as a browser without JavaScript gets it: every failure explained, the smoke
// log, the per-task table and plots, and who sees what.

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
    const categories = FAILURE_CATEGORIES;
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
