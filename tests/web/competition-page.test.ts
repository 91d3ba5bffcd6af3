import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCompetition } from "@holdout/db";
import { launchBrowser, saveScreenshot, sessionCookieFor, type DomWindow } from "../support/browser.ts";
import { TEST_TESTSET_DIR, uniqueName } from "../support/env.ts";
import { startStack, type Stack } from "../support/stack.ts";

// The competition page in a real browser: reached from the leaderboard's header, edited by an
// organizer whose Markdown cannot run a script, and the terms shown where each competition's teams
// register.

const HOSTILE = [
  "Welcome to **the challenge**.",
  "",
  "<script>window.__pwned = 'script'</script>",
  "",
  '<img src="x" onerror="window.__pwned = \'img\'">',
  "",
  "[a harmless-looking link](javascript:window.__pwned='link')",
  "",
  "![tracker](https://tracker.example.org/pixel.png)",
  "",
  "[the CheXpert paper](https://arxiv.org/abs/1901.07031)",
].join("\n");

describe("the competition page in a browser", () => {
  let stack: Stack;
  let browser: Browser;
  let other: { slug: string };
  const otherTerms = `Triage terms ${uniqueName("v")}: do not share the radiographs.`;

  beforeAll(async () => {
    stack = await startStack({ worker: true });
    browser = await launchBrowser();
    other = await createCompetition(
      stack.db,
      { actor: "test" },
      {
        slug: uniqueName("triage"),
        name: "Triage",
        testsetDir: TEST_TESTSET_DIR,
        testsetSha256: "d".repeat(64),
        scorer: "mean_auc",
        tasks: ["Fracture", "Nodule"],
        terms: otherTerms,
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
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("is linked from the leaderboard and states the limits and the metric", { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(`${stack.url}/`);
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Competition", exact: true })
      .click();
    await page.waitForURL(`${stack.url}/competition`);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe(stack.competition.name);
    expect(await page.locator("[data-task]").allTextContents()).toEqual([
      "Atelectasis",
      "Cardiomegaly",
      "Consolidation",
      "Edema",
      "Pleural Effusion",
    ]);
    expect(await page.locator("[data-auc-floor]").textContent()).toBe("0.7");
    // The stack's worker runs with 1024 MiB (tests/support/stack.ts) and no network.
    expect(await page.locator('[data-limit="memory"]').allTextContents()).toContain("1024 MiB");
    expect(await page.locator('[data-limit="network"]').first().textContent()).toBe("none");
    expect(await page.locator("[data-cli-install]").textContent()).toMatch(
      new RegExp(`^npm install -g ${stack.url}/cli/holdout-cli-`),
    );
    await saveScreenshot(page, "competition-page");
    await page.close();
  });

  it(
    "shows an organizer's Markdown with no script, handler or foreign image let through",
    { timeout: 60_000 },
    async () => {
      const organizer = await stack.createOrganizer();
      const [, token] = (await sessionCookieFor(stack.db, { accountId: organizer.id })).split("=");
      const context = await browser.newContext();
      await context.addCookies([{ name: "holdout_session", value: token!, url: stack.url }]);
      const page = await context.newPage();
      const refusedScripts: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") refusedScripts.push(m.text());
      });
      await page.goto(`${stack.url}/admin`);
      await page.getByRole("link", { name: "edit its text and the data-use terms" }).click();
      await page.waitForURL(`${stack.url}/admin/competition-page`);
      await page.getByLabel("Overview").fill(HOSTILE);
      await page
        .getByLabel("Rules")
        .fill("1. Be kind.\n2. <b onmouseover=\"window.__pwned='b'\">No</b> leaks.");
      await page.getByRole("button", { name: "Save" }).click();
      await page.waitForURL(`${stack.url}/competition?saved=1`);

      const overview = page.locator('[data-prose="overview"]');
      expect(await overview.locator("strong").textContent()).toBe("the challenge");
      // The raw HTML arrives as text, visible to the reader and inert.
      expect(await overview.textContent()).toContain("<script>window.__pwned = 'script'</script>");
      const found = await page.evaluate(() => {
        const w = globalThis as unknown as DomWindow & { __pwned?: string };
        const q = (s: string) => w.document.querySelectorAll(s).length;
        return {
          pwned: w.__pwned ?? null,
          scripts: q(".prose script"),
          images: q(".prose img"),
          handlers: q(".prose [onerror], .prose [onmouseover]"),
          jsLinks: q('.prose a[href^="javascript"]'),
          paperRel: w.document
            .querySelector('.prose a[href="https://arxiv.org/abs/1901.07031"]')
            ?.getAttribute("rel"),
        };
      });
      expect(found).toEqual({
        pwned: null,
        scripts: 0,
        images: 0,
        handlers: 0,
        jsLinks: 0,
        paperRel: "nofollow noopener noreferrer",
      });
      // Hovering what was meant to carry a handler does nothing either.
      await page.locator('[data-prose="rules"]').hover();
      expect(await page.evaluate(() => (globalThis as { __pwned?: string }).__pwned ?? null)).toBeNull();
      expect(await page.locator('[data-prose="rules"] li').allTextContents()).toEqual([
        "Be kind.",
        "<b onmouseover=\"window.__pwned='b'\">No</b> leaks.",
      ]);
      await saveScreenshot(page, "competition-page-edited");

      // Anyone reads the edit at once, without a restart.
      const anonymous = await browser.newPage();
      await anonymous.goto(`${stack.url}/competition`);
      expect(await anonymous.locator('[data-prose="overview"] strong').textContent()).toBe("the challenge");
      await anonymous.close();
      await context.close();
    },
  );

  it("shows each competition's own terms where its teams register", { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(`${stack.url}/c/${other.slug}/register`);
    expect(await page.locator('[data-prose="terms"]').textContent()).toContain(otherTerms);
    await page.goto(`${stack.url}/register`);
    const standard = await page.locator('[data-prose="terms"]').textContent();
    expect(standard).toContain("By registering, your team agrees to these terms");
    expect(standard).not.toContain(otherTerms);
    // The second competition's page: its own scorer and tasks, its terms.
    await page.goto(`${stack.url}/c/${other.slug}/competition`);
    expect(await page.locator("[data-task]").allTextContents()).toEqual(["Fracture", "Nodule"]);
    expect(await page.locator('[data-prose="terms"]').textContent()).toContain(otherTerms);
    expect(await page.getByText("The radiologists' operating points").count()).toBe(0);
    await page.close();
  });
});
