import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, saveScreenshot } from "../support/browser.ts";
import { uniqueName } from "../support/env.ts";
import { startStack, type Stack } from "../support/stack.ts";

// What a participant's browser does with hostile links and look-alike names, in Debian's Chromium:
// a sign-in link whose `next` points elsewhere (in every form known to slip past a prefix check)
// lands on this site; a team name that only differs from a taken one in case or spacing, or that
// hides a zero-width character, is refused next to the field.

// Known open-redirect bypasses, as they would appear in a crafted link's query string.
const BYPASSES = [
  "%2F%09%2Fevil.invalid", // a tab, which browsers drop: /\t/evil.invalid → //evil.invalid
  "/%09/evil.invalid",
  "/%0A/evil.invalid",
  "%2F%5Cevil.invalid", // a backslash, which browsers read as a slash
  "/%5C/evil.invalid",
  "%5C%5Cevil.invalid",
  "//evil.invalid",
  "%2F%2Fevil.invalid",
  "/..//evil.invalid",
  "/%2e%2e//evil.invalid",
  "https://evil.invalid/",
  "https:evil.invalid",
  "javascript:alert(document.domain)",
  "%20//evil.invalid",
];

describe("hostile links and look-alike names, in a real browser", () => {
  let stack: Stack;
  let browser: Browser;
  const password = "correct horse battery staple";
  let email: string;

  beforeAll(async () => {
    stack = await startStack();
    // No host but loopback resolves: a redirect that escaped would fail at once, without a lookup.
    browser = await launchBrowser(["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]);
    email = `${uniqueName("redirect")}@example.org`;
    const res = await fetch(`${stack.url}/api/v1/teams`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: uniqueName("Redirect Team"), email, password, acceptTerms: true }),
    });
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  /**
   * A browser context that records every request (redirect hops included) for another origin; none
   * leaves this machine (the browser resolves no other host, and the router aborts what it sees).
   */
  async function guardedContext(): Promise<{ context: BrowserContext; elsewhere: string[] }> {
    const context = await browser.newContext();
    const elsewhere: string[] = [];
    const ours = new URL(stack.url).origin;
    const foreign = (url: string) => !url.startsWith(`${ours}/`) && url !== ours;
    context.on("request", (r) => {
      if (foreign(r.url())) elsewhere.push(r.url());
    });
    await context.route("**/*", (route) =>
      foreign(route.request().url()) ? route.abort() : route.continue(),
    );
    return { context, elsewhere };
  }

  it.each(BYPASSES)("signing in through a link with next=%s lands on this site", async (next) => {
    const ours = new URL(stack.url).origin;
    const { context, elsewhere } = await guardedContext();
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${stack.url}/login?next=${next}`);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    // The sign-in either loads a page (here, we hope) or its navigation fails (a trip elsewhere).
    const settled = new Promise<void>((resolve) => {
      page.once("load", () => resolve());
      page.once("requestfailed", () => resolve());
    });
    await page.getByRole("button", { name: "Sign in" }).click();
    await settled;
    expect(elsewhere, next).toEqual([]);
    expect(page.url(), next).toBe(`${ours}/team`);
    // Signed in, the same link redirects at once: still here.
    await page.goto(`${stack.url}/login?next=${next}`).catch((err: Error) => elsewhere.push(err.message));
    expect(page.url(), next).toBe(`${ours}/`);
    expect(elsewhere, next).toEqual([]);
    expect(dialogs, next).toEqual([]);
    await context.close();
  });

  it("still returns to a page of this site after signing in", async () => {
    const { context } = await guardedContext();
    const page = await context.newPage();
    await page.goto(`${stack.url}/submit`);
    await page.waitForURL(/\/login\?next=%2Fsubmit$/);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${stack.url}/submit`);
    await context.close();
  });

  it("refuses a team name that reads like a taken one, and one hiding a zero-width character", async () => {
    const name = uniqueName("Café Lumière");
    const { context } = await guardedContext();
    const register = async (teamName: string) => {
      const page = await context.newPage();
      await page.goto(`${stack.url}/register`);
      await page.getByLabel("Team name").fill(teamName);
      await page.getByLabel("Email").fill(`${uniqueName("lookalike")}@example.org`);
      await page.getByLabel("Password").fill(password);
      await page.getByLabel("I accept the competition's data-use terms").check();
      await page.getByRole("button", { name: "Register" }).click();
      await page.waitForLoadState("load");
      return page;
    };
    const first = await register(name);
    expect(await first.locator("#new-token").textContent()).toMatch(/^hld_/);
    await first.close();
    await context.clearCookies();

    // Lower case and a doubled space: the same name to a reader.
    const alike = await register(name.toLowerCase().replace(" ", "  "));
    expect(await alike.locator("#reg-name-error").textContent()).toMatch(
      /^This team name is taken: another team's name reads the same/,
    );
    expect(await alike.locator("#reg-name").getAttribute("aria-invalid")).toBe("true");
    await saveScreenshot(alike, "register-look-alike");

    const hidden = await register(name.replace("é", "\u200Bé"));
    expect(await hidden.locator("#reg-name-error").textContent()).toBe(
      "must not contain U+200B ZERO WIDTH SPACE (an invisible character), at character 4",
    );
    // One team of that name, whatever was tried.
    const rows = await stack.db.team.count({ where: { competitionId: stack.competition.id, name } });
    expect(rows).toBe(1);
    await context.close();
  });
});
