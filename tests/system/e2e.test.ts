import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "../support/browser.ts";
import { BASELINE_TARBALL, REPO_ROOT, TEST_DATABASE_URL, uniqueName } from "../support/env.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

const run = promisify(execFile);

// The whole pipeline as a participant uses it: a team made with the organizer CLI, the example
// image uploaded over real HTTP multipart, evaluated by the worker in the Docker sandbox against
// the synthetic hidden test set, scored, and ranked on the leaderboard (JSON and the HTML page in
// a real browser).
describe("a submission travels from upload to the leaderboard", () => {
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startStack({ worker: true });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("scores the example image and ranks it", { timeout: 300_000 }, async () => {
    const teamName = uniqueName("Stanford ML");
    const cli = await run(
      process.execPath,
      [
        "apps/cli/bin/holdout.js",
        "team",
        "create",
        "--name",
        teamName,
        "--institution",
        "Stanford University",
        "--competition",
        stack.competition.slug,
        "--json",
      ],
      { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL } },
    );
    const { token } = JSON.parse(cli.stdout) as { token: string };
    expect(token).toMatch(/^hld_/);

    const { status, body } = await uploadImage(stack.url, token, BASELINE_TARBALL, {
      model: "Baseline CNN-free",
      description: "hand-made features",
      link: "https://example.org/baseline",
      ensemble: "false",
    });
    expect(status).toBe(202);
    const { id } = body;

    const final = await waitForFinal(stack.url, token, id);
    expect(final.failure).toBeNull();
    expect(final.state).toBe("scored");
    const scored = final as unknown as {
      meanAuc: number;
      tasks: { task: string; auc: number }[];
      image: unknown;
    };
    expect(scored.meanAuc).toBeGreaterThanOrEqual(0.75);
    expect(scored.tasks.map((t) => t.task)).toEqual([
      "Atelectasis",
      "Cardiomegaly",
      "Consolidation",
      "Edema",
      "Pleural Effusion",
    ]);
    expect(scored.image).not.toBeNull();

    // The timeline shows every step in order.
    const events = (await (
      await fetch(`${stack.url}/api/v1/submissions/${id}/events`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).json()) as { events: { state: string; detail: string | null }[] };
    // Steps within `running` (smoke run, hidden run) are events too; the states go in this order.
    const states = events.events.map((e) => e.state).filter((s, i, all) => s !== all[i - 1]);
    expect(states).toEqual(["received", "queued", "running", "scoring", "scored"]);
    expect(events.events.map((e) => e.detail)).toContain("hidden run started");

    // The loaded image does not outlive the run; no container is left behind.
    const { stdout: containers } = await run("docker", [
      "ps",
      "-aq",
      "--filter",
      `label=holdout.submission=${id}`,
    ]);
    expect(containers.trim()).toBe("");

    const board = (await (await fetch(`${stack.url}/api/v1/leaderboard`)).json()) as {
      entries: {
        rank: number;
        model: string;
        team: string;
        institution: string;
        meanAuc: number;
        display: { auc: string };
      }[];
    };
    expect(board.entries).toHaveLength(1);
    expect(board.entries[0]).toMatchObject({
      rank: 1,
      model: "Baseline CNN-free",
      team: teamName,
      institution: "Stanford University",
      meanAuc: scored.meanAuc,
    });

    const page = await browser.newPage();
    await page.goto(`${stack.url}/`);
    const row = page.locator(`#leaderboard tr[data-submission="${id}"]`);
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    expect(await row.locator("td.rank").textContent()).toBe("1");
    expect(await row.locator(".model").textContent()).toContain("Baseline CNN-free");
    expect(await row.locator(".model").textContent()).toContain("single model");
    expect(await row.textContent()).toContain("Stanford University");
    expect(await row.locator("td.auc").textContent()).toBe(board.entries[0]!.display.auc);
    expect(await page.title()).toContain("leaderboard");
    await page.close();
  });
});
