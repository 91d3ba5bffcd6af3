import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  launchBrowser,
  saveScreenshot,
  seedSubmission,
  type DomElement,
  type DomWindow,
} from "../support/browser.ts";
import { BASELINE_TARBALL, uniqueName } from "../support/env.ts";
import { startStack, type Stack } from "../support/stack.ts";

// A participant's whole visit in Debian's Chromium, against a real API and worker: register, submit
// the example image through the form (the progress bar moves), watch the status reach "scored"
// without reloading, read the per-task table (no hidden-set plot while open); then the leaderboard
// (also on a phone), the team page, a failure explanation, the organizer's page and its closing of
// the competition, after which the team's page shows the plots. Every page is screenshotted.

/** The page's window, with the function the test exposes to it. */
interface ProgressWindow extends DomWindow {
  recordProgress(value: number): void;
}

/** WCAG relative luminance of a CSS rgb()/rgba() colour. */
function luminance(css: string): number {
  const [r, g, b] = (css.match(/[\d.]+/g) ?? []).slice(0, 3).map((v) => {
    const c = Number(v) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

/** Inputs, selects and text areas (not hidden ones) without an associated label or aria-label. */
function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from((globalThis as unknown as DomWindow).document.querySelectorAll("input, select, textarea"))
      .filter(
        (el) => el.type !== "hidden" && (el.labels?.length ?? 0) === 0 && !el.getAttribute("aria-label"),
      )
      .map((el) => el.outerHTML),
  );
}

describe("the web, in a real browser", () => {
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

  it(
    "registers, submits through the form, follows the run live to its plots",
    { timeout: 420_000 },
    async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const consoleErrors: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") consoleErrors.push(m.text());
      });

      // Register through the form (plain HTML post), which also signs the team in.
      await page.goto(`${stack.url}/register`);
      expect(await unlabelledControls(page)).toEqual([]);
      const teamName = uniqueName("Browser Team");
      await page.getByLabel("Team name").fill(teamName);
      await page.getByLabel("Institution (optional)").fill("Chromium University");
      await page.getByLabel("Email").fill(`${uniqueName("b")}@example.org`);
      await page.getByLabel("Password").fill("correct horse battery staple");
      await page.getByLabel("I accept the competition's data-use terms").check();
      await saveScreenshot(page, "register");
      await page.getByRole("button", { name: "Register" }).click();
      await page.waitForURL(`${stack.url}/register`);
      expect(await page.locator("#new-token").textContent()).toMatch(/^hld_/);
      await saveScreenshot(page, "registered");

      // The submit form: labels, keyboard order, contrast.
      await page.goto(`${stack.url}/submit`);
      expect(await unlabelledControls(page)).toEqual([]);
      expect(await page.locator("#quota").textContent()).toContain("submissions left now");
      await page.locator("#sub-model").focus();
      const order: string[] = [];
      for (let i = 0; i < 7; i++) {
        order.push(
          await page.evaluate(() => (globalThis as unknown as DomWindow).document.activeElement?.id ?? ""),
        );
        await page.keyboard.press("Tab");
      }
      expect(order).toEqual([
        "sub-model",
        "sub-description",
        "sub-link",
        "sub-ensemble",
        "sub-kind-image",
        "sub-file",
        "sub-button",
      ]);
      const colours = await page.evaluate(() => {
        const w = globalThis as unknown as DomWindow;
        const body = w.getComputedStyle(w.document.body);
        const muted = w.getComputedStyle(w.document.querySelector(".hint")!);
        const link = w.getComputedStyle(w.document.querySelector("main a") ?? w.document.querySelector("a")!);
        return { fg: body.color, bg: body.backgroundColor, muted: muted.color, link: link.color };
      });
      expect(contrast(colours.fg, colours.bg)).toBeGreaterThanOrEqual(7);
      expect(contrast(colours.muted, colours.bg)).toBeGreaterThanOrEqual(4.5);
      expect(contrast(colours.link, colours.bg)).toBeGreaterThanOrEqual(4.5);

      // A link that is not http(s) is refused in the page, before any byte is sent.
      const posts: string[] = [];
      page.on("request", (r) => {
        if (r.method() === "POST") posts.push(r.url());
      });
      await page.getByLabel("Model name").fill("Browser\u0007Baseline");
      await page.getByLabel("Link to a paper or code (optional)").fill("ftp://example.org/paper");
      await page.getByLabel("File").setInputFiles(BASELINE_TARBALL);
      await page.getByRole("button", { name: "Submit" }).click();
      expect(await page.locator('[data-error-for="link"]').textContent()).toContain("http(s) URL");
      expect(await page.locator("#sub-link").getAttribute("aria-invalid")).toBe("true");
      expect(await page.locator("#upload-progress").isVisible()).toBe(false);
      expect(posts).toEqual([]);

      // A field error only the server finds (a control character in the name) lands next to its
      // field. The browser reads the answer only once it has sent the whole file (hundreds of MB),
      // which the server reads and drops (a lingering close) so that the answer is not lost to a reset.
      await page.getByLabel("Link to a paper or code (optional)").fill("https://example.org/paper");
      await page.getByRole("button", { name: "Submit" }).click();
      await expect
        .poll(() => page.locator('[data-error-for="model"]').textContent(), { timeout: 60_000 })
        .toContain("must not contain U+0007 ALERT (a control character), at character 8");
      expect(await page.locator("#sub-model").getAttribute("aria-invalid")).toBe("true");
      expect(await page.locator("#sub-link").getAttribute("aria-invalid")).toBeNull();
      expect(await page.locator("#upload-progress").isVisible()).toBe(false);
      expect(posts).toHaveLength(1);
      await saveScreenshot(page, "submit-field-error");

      // The real upload, recording every value the progress bar takes on the way.
      const progress: number[] = [];
      await page.exposeFunction("recordProgress", (v: number) => progress.push(v));
      await page.evaluate(() => {
        const w = globalThis as unknown as ProgressWindow;
        const bar = w.document.getElementById("sub-progress")!;
        new w.MutationObserver(() => w.recordProgress(bar.value)).observe(bar, { attributes: true });
      });
      await page.getByLabel("Model name").fill("Browser Baseline");
      await page.getByLabel("Description (optional)").fill("hand-made features, through the browser");
      await page.getByRole("button", { name: "Submit" }).click();
      await page.waitForURL(/\/submissions\/[0-9a-f-]{36}$/, { timeout: 120_000 });
      const moved = progress.filter((v) => v > 0);
      expect(moved.length).toBeGreaterThan(1);
      expect(moved.some((v) => v < 100)).toBe(true);
      expect(Math.max(...moved)).toBe(100);
      for (let i = 1; i < moved.length; i++) expect(moved[i]!).toBeGreaterThanOrEqual(moved[i - 1]!);
      const id = page.url().split("/").pop()!;

      // The status page follows the run without reloading: count navigations from here on.
      let navigations = 0;
      page.on("framenavigated", (frame) => {
        if (frame === page.mainFrame()) navigations++;
      });
      await saveScreenshot(page, "submission-live");
      await page.locator("#state", { hasText: "Scored" }).waitFor({ timeout: 360_000 });
      await page.locator("#tasks").waitFor({ timeout: 30_000 });
      expect(navigations).toBe(0);
      // Kept live by the server-sent events stream, not by the polling fallback.
      expect(await page.locator("body").getAttribute("data-live")).toBe("events");
      const states = await page.locator("#timeline li strong").allTextContents();
      expect(states).toContain("Running");
      expect(states.at(-1)).toBe("Scored");

      // The per-task table at the released precision, and no hidden-set plot while the competition
      // is open: the page says they come at closing.
      expect(await page.locator("#tasks tbody tr").count()).toBe(5);
      expect(await page.locator("#mean-auc").textContent()).toMatch(/^0\.\d{3}\b/);
      expect(await page.locator("svg.plot").count()).toBe(0);
      expect(await page.locator("#plots-later").isVisible()).toBe(true);
      await saveScreenshot(page, "submission-scored");
      expect(consoleErrors.filter((e) => /Content Security Policy|Refused/.test(e))).toEqual([]);

      // The leaderboard lists it, with its interval column; and reads on a phone without sideways scrolling.
      await page.goto(`${stack.url}/`);
      const row = page.locator(`#leaderboard tr[data-submission="${id}"]`);
      expect(await row.locator("td.rank").textContent()).toBe("1");
      expect(await row.textContent()).toContain(teamName);
      await saveScreenshot(page, "leaderboard");
      await page.getByRole("link", { name: "Show per-task AUC" }).click();
      expect(await page.locator("#leaderboard th.task").count()).toBe(5);
      await saveScreenshot(page, "leaderboard-tasks");

      const phone = await browser.newContext({
        viewport: { width: 390, height: 844 },
        isMobile: true,
        hasTouch: true,
      });
      const small = await phone.newPage();
      await small.goto(`${stack.url}/`);
      const widths = await small.evaluate(() => {
        const w = globalThis as unknown as DomWindow;
        return { doc: w.document.documentElement.scrollWidth, view: w.innerWidth };
      });
      expect(widths.doc).toBeLessThanOrEqual(widths.view);
      expect(await small.locator(`#leaderboard tr[data-submission="${id}"]`).isVisible()).toBe(true);
      const shot = await saveScreenshot(small, "leaderboard-phone");
      expect(shot.width).toBeLessThan(1000);
      await phone.close();

      // The team page, and a failure explained in plain words.
      await page.goto(`${stack.url}/team`);
      expect(await page.locator(`#submissions tr[data-submission="${id}"]`).textContent()).toContain(
        "Scored",
      );
      await saveScreenshot(page, "team");
      const teamId = (await stack.db.team.findFirstOrThrow({ where: { name: teamName } })).id;
      const failed = await seedSubmission(stack.db, {
        competitionId: stack.competition.id,
        teamId,
        model: "Crashing model",
        state: "failed",
        failure: {
          category: "nonzero_exit",
          message: "the model exited with status 1",
          phase: "smoke",
          refunded: true,
        },
        smokeLog:
          'Traceback (most recent call last):\n  File "predict.py", line 3\nImportError: no module named torch',
      });
      await page.goto(`${stack.url}/submissions/${failed}`);
      expect(await page.locator("#failure h3").textContent()).toBe(
        "The model's program stopped with an error",
      );
      expect(await page.locator("#failure").textContent()).toContain("This happened in the smoke run");
      expect(await page.locator("pre.log").textContent()).toContain("ImportError");
      await saveScreenshot(page, "submission-failed");

      // The organizer signs in through the form and sees the queue, workers and the entry.
      const organizer = await stack.createOrganizer();
      const admin = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const adminPage = await admin.newPage();
      await adminPage.goto(`${stack.url}/admin`);
      await adminPage.waitForURL(/\/login\?next=%2Fadmin$/);
      await adminPage.getByLabel("Email").fill(organizer.email);
      await adminPage.getByLabel("Password").fill(organizer.password);
      await adminPage.getByRole("button", { name: "Sign in" }).click();
      await adminPage.waitForURL(`${stack.url}/admin`);
      expect(await unlabelledControls(adminPage)).toEqual([]);
      expect(
        await adminPage.locator(`#admin-submissions tr[data-submission="${id}"]`).textContent(),
      ).toContain("Browser Baseline");
      await saveScreenshot(adminPage, "admin");

      // Closing asks for the slug: a wrong one is refused next to the field, the right one closes.
      await adminPage.getByLabel(/^Type the competition's slug/).fill("not-the-slug");
      await adminPage.getByRole("button", { name: "Close the competition" }).click();
      expect(await adminPage.locator("#close-confirm-error").textContent()).toContain(stack.competition.slug);
      await adminPage.getByLabel(/^Type the competition's slug/).fill(stack.competition.slug);
      await adminPage.getByRole("button", { name: "Close the competition" }).click();
      await adminPage.waitForURL(/\/admin\?notice=closed$/);
      expect(await adminPage.locator("#competition-state").textContent()).toContain(organizer.email);
      expect(await adminPage.locator("#audit-table tbody tr").first().textContent()).toContain(
        "competition.close",
      );
      await saveScreenshot(adminPage, "admin-closed");
      await admin.close();

      // Once closed, the team's page shows the hidden-set plots, each with its text alternative.
      await page.goto(`${stack.url}/submissions/${id}`);
      const plots = page.locator("#plots svg.plot");
      expect(await plots.count()).toBe(10);
      expect(await page.locator("#plots-later").count()).toBe(0);
      const alts = await plots.evaluateAll((nodes) =>
        (nodes as unknown as DomElement[]).map((s) => ({
          role: s.getAttribute("role"),
          title: s.querySelector("title")?.textContent ?? "",
          desc: s.querySelector("desc")?.textContent ?? "",
          curve: s.querySelector("polyline.curve")?.getAttribute("points")?.split(" ").length ?? 0,
        })),
      );
      for (const alt of alts) {
        expect(alt.role).toBe("img");
        expect(alt.title).toMatch(/^(ROC|Precision-recall) curve, /);
        expect(alt.desc.length).toBeGreaterThan(20);
        expect(alt.curve).toBeGreaterThan(2);
      }
      const box = await plots.first().boundingBox();
      expect(box!.width).toBeGreaterThan(100);
      await saveScreenshot(page, "submission-closed-plots");
      await context.close();
    },
  );
});
