import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, saveScreenshot, sessionCookieFor } from "../support/browser.ts";
import { BASELINE_TARBALL, uniqueName } from "../support/env.ts";
import { startStack, type Stack } from "../support/stack.ts";

// An organizer names a baseline on the organizer page and uploads its entry through the baseline's
// page, in a real Chromium: the form posts to the admin API (static/submit.js), and the entry's
// page says it is a baseline. No worker: the entry stays queued, which is all the page needs.

describe("baselines in the organizer's pages", () => {
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startStack();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("names a baseline on /admin, uploads its entry from its page, and opens the entry", async () => {
    const organizer = await stack.createOrganizer();
    const [name, value] = (await sessionCookieFor(stack.db, { accountId: organizer.id })).split("=");
    const context = await browser.newContext();
    await context.addCookies([{ name: name!, value: value!, url: stack.url }]);
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });

    await page.goto(`${stack.url}/admin#baselines`);
    const baseline = uniqueName("Stanford Baseline");
    await page.getByLabel("Baseline name").fill(baseline);
    await page.getByLabel("Institution (optional)").fill("Stanford University");
    await page.getByRole("button", { name: "Open the baseline's page" }).click();
    await page.waitForURL(/\/admin\/baselines\/[0-9a-f-]{36}$/);
    expect(await page.locator("h1").textContent()).toBe(`Baseline: ${baseline}`);
    expect(await page.locator("#baseline-entries + .empty").textContent()).toBe("No entry yet.");

    await page.getByLabel("Model name").fill("Stanford Baseline (DenseNet)");
    await page.getByLabel("This model is an ensemble").check();
    await page.getByLabel("File").setInputFiles(BASELINE_TARBALL);
    await saveScreenshot(page, "baseline-submit");
    await page.getByRole("button", { name: "Submit" }).click();
    await page.waitForURL(/\/submissions\/[0-9a-f-]{36}$/, { timeout: 120_000 });
    const lede = await page.locator(".lede").first().textContent();
    expect(lede).toContain(baseline);
    expect(lede).toContain("Stanford University");
    expect(lede).toContain("baseline");
    expect(lede).toContain("ensemble");

    const id = /\/submissions\/([0-9a-f-]{36})$/.exec(page.url())![1]!;
    const row = await stack.db.submission.findUniqueOrThrow({
      where: { id },
      select: { state: true, team: { select: { name: true, baseline: true } } },
    });
    expect(row).toEqual({ state: "queued", team: { name: baseline, baseline: true } });
    // Back on /admin the baseline is listed with its entry.
    await page.goto(`${stack.url}/admin`);
    expect(await page.locator("#baselines-list").textContent()).toContain("1 entry");
    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
