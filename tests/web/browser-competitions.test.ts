import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { showCompetition } from "@holdout/db";
import { launchBrowser, saveScreenshot, sessionCookieFor } from "../support/browser.ts";
import { TEST_TESTSET_DIR, uniqueName } from "../support/env.ts";
import { TEST_DEVSET_DIR } from "../support/global-setup.ts";
import { tarBuffer } from "../support/images.ts";
import { startStack, type Stack } from "../support/stack.ts";

// An organizer creates a second competition on the organizer pages; a team registers under its
// pages (/c/{slug}/…), is approved, and submits to its development phase.

describe("a new competition, through the pages", () => {
  let stack: Stack;
  let browser: Browser;
  let work: string;

  beforeAll(async () => {
    stack = await startStack();
    browser = await launchBrowser();
    work = await mkdtemp(path.join(os.tmpdir(), "holdout-competitions-"));
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it(
    "is created by an organizer and takes a team's submission in its development phase",
    { timeout: 120_000 },
    async () => {
      const organizer = await stack.createOrganizer();
      const [, token] = (await sessionCookieFor(stack.db, { accountId: organizer.id })).split("=");
      const admin = await browser.newContext();
      await admin.addCookies([{ name: "holdout_session", value: token!, url: stack.url }]);
      const page = await admin.newPage();
      await page.goto(`${stack.url}/admin`);
      await page.getByRole("link", { name: "New competition" }).click();
      await page.waitForURL(`${stack.url}/admin/competitions/new`);

      const slug = uniqueName("triage");
      await page.getByLabel("Slug").fill(slug);
      await page.getByLabel("Name", { exact: true }).fill(`Triage ${slug}`);
      await page.getByLabel("Test set directory on the server").fill(TEST_TESTSET_DIR);
      await page.getByLabel("Development set directory (optional)").fill(TEST_DEVSET_DIR);
      // A test phase that starts before the development phase ends: refused, next to the field.
      await page.getByLabel("Phases, one per line").fill("Development,development,now,+2d\nTest,hidden,+1d,");
      await page.getByRole("button", { name: "Create the competition" }).click();
      expect(await page.locator('[data-error-for="phases"]').textContent()).toMatch(
        /^phase 2 "Test": starts .* before phase 1 "Development" ends/,
      );
      expect(await showCompetition(stack.db, slug)).toBeNull();
      await saveScreenshot(page, "competition-new-error");

      await page.getByLabel("Phases, one per line").fill("Development,development,now,+1d\nTest,hidden,+1d,");
      await page.getByRole("button", { name: "Create the competition" }).click();
      await page.waitForURL(`${stack.url}/c/${slug}/admin`);
      const created = await showCompetition(stack.db, slug);
      expect(created).toMatchObject({ name: `Triage ${slug}`, scorer: "chexpert", status: "open" });
      expect(created!.phases.map((p) => [p.name, p.data, p.feedback, p.ranked])).toEqual([
        ["Development", "development", "full", false],
        ["Test", "hidden", "released", true],
      ]);

      // A team registers on the new competition's pages.
      const team = await browser.newContext();
      const teamPage = await team.newPage();
      await teamPage.goto(`${stack.url}/c/${slug}/register`);
      const teamName = uniqueName("Triage Team");
      await teamPage.getByLabel("Team name").fill(teamName);
      await teamPage.getByLabel("Email").fill(`${uniqueName("t")}@example.org`);
      await teamPage.getByLabel("Password").fill("correct horse battery staple");
      await teamPage.getByLabel("I accept the competition's data-use terms").check();
      await teamPage.getByRole("button", { name: "Register" }).click();
      await teamPage.waitForURL(`${stack.url}/c/${slug}/register`);
      expect(await teamPage.locator("#new-token").textContent()).toMatch(/^hld_/);

      // New competitions want an organizer's approval first: given on its organizer page.
      await page.reload();
      await page.getByRole("button", { name: `Approve ${teamName}` }).click();
      await page.waitForURL(new RegExp(`/c/${slug}/admin\\?notice=approved$`));

      const file = path.join(work, "model.tar");
      await writeFile(file, await tarBuffer({ "manifest.json": "[]" }));
      await teamPage.goto(`${stack.url}/c/${slug}/submit`);
      await teamPage.getByLabel("Model name").fill("Dev model");
      await teamPage.getByLabel("File").setInputFiles(file);
      await teamPage.getByRole("button", { name: "Submit" }).click();
      await teamPage.waitForURL(new RegExp(`/c/${slug}/submissions/[0-9a-f-]{36}$`), { timeout: 60_000 });
      const id = teamPage.url().split("/").pop()!;
      await saveScreenshot(teamPage, "competition-submitted");

      // Recorded in the new competition's development phase; the default competition knows nothing of it.
      const submission = await stack.db.submission.findUniqueOrThrow({
        where: { id },
        include: { phase: true },
      });
      expect(submission).toMatchObject({ competitionId: created!.id, state: "queued" });
      expect(submission.phase.name).toBe("Development");
      expect((await fetch(`${stack.url}/api/v1/submissions/${id}`)).status).toBe(404);

      // The home page lists the new competition.
      await teamPage.goto(`${stack.url}/`);
      await teamPage
        .locator("#competitions")
        .getByRole("link", { name: `Triage ${slug}` })
        .click();
      await teamPage.waitForURL(`${stack.url}/c/${slug}/`);
      await admin.close();
      await team.close();
    },
  );
});
