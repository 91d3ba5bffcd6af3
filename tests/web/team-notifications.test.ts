import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, saveScreenshot, seedSubmission, sessionCookieFor } from "../support/browser.ts";
import { startWebhookListener } from "../support/listeners.ts";
import { startStack, type Stack } from "../support/stack.ts";

// The team page's notifications, in a real Chromium: add a webhook (its secret shown once), read its
// delivery log, turn e-mail on, see a refused address explained, remove the webhook. Another team's
// page never shows it.
describe("the team page's notifications", () => {
  let stack: Stack;
  let browser: Browser;
  let listener: Awaited<ReturnType<typeof startWebhookListener>>;

  beforeAll(async () => {
    stack = await startStack({ worker: false, webhookAllowPrivate: true });
    browser = await launchBrowser();
    listener = await startWebhookListener();
  });
  afterAll(async () => {
    await browser?.close();
    await listener?.close();
    await stack?.close();
  });

  async function signedIn(teamId: string): Promise<BrowserContext> {
    const [, token] = (await sessionCookieFor(stack.db, { teamId })).split("=");
    const context = await browser.newContext();
    await context.addCookies([{ name: "holdout_session", value: token!, url: stack.url }]);
    return context;
  }

  it("adds a webhook, shows its secret once and its deliveries, toggles e-mail, removes it", async () => {
    const team = await stack.createTeam();
    const context = await signedIn(team.id);
    const page = await context.newPage();
    await page.goto(`${stack.url}/team`);
    await page.fill("#webhook-url", listener.url);
    await page.click("text=Add a webhook");
    const secret = (await page.textContent("#new-webhook-secret"))?.trim() ?? "";
    expect(secret).toMatch(/^whsec_/);

    // Seeded as the worker writes them: one delivery, tried three times.
    const hook = await stack.db.webhook.findFirstOrThrow({ where: { teamId: team.id } });
    const submissionId = await seedSubmission(stack.db, {
      competitionId: stack.competition.id,
      teamId: team.id,
      model: "seeded",
      state: "cancelled",
    });
    await stack.db.webhookDelivery.create({
      data: {
        webhookId: hook.id,
        submissionId,
        body: "{}",
        state: "delivered",
        attempts: {
          create: [
            { attempt: 1, statusCode: 500 },
            { attempt: 2, statusCode: null, error: "connect ECONNREFUSED" },
            { attempt: 3, statusCode: 200 },
          ],
        },
      },
    });
    await page.goto(`${stack.url}/team`);
    const html = await page.content();
    expect(html).not.toContain(secret);
    expect(await page.textContent(`[data-webhook="${hook.id}"] code`)).toBe(listener.url);
    const row = page.locator(`[data-webhook="${hook.id}"] tr[data-delivery]`);
    expect(await row.locator("td").nth(1).textContent()).toBe("delivered");
    const attempts = await row.locator("ol.attempts li").allTextContents();
    expect(attempts).toHaveLength(3);
    expect(attempts[0]).toMatch(/: 500$/);
    expect(attempts[1]).toMatch(/ECONNREFUSED/);
    expect(attempts[2]).toMatch(/: 200$/);

    await page.click("#email-choice button");
    expect(await page.textContent("[role=status]")).toContain("will get an e-mail");
    expect(await page.textContent("#email-choice strong")).toBe("on");
    const settings = await fetch(`${stack.url}/api/v1/team/notifications`, {
      headers: { authorization: `Bearer ${team.token}` },
    });
    expect(await settings.json()).toEqual({ emailOnEnd: true });

    await page.fill("#webhook-url", "http://169.254.169.254/latest/meta-data");
    await page.click("text=Add a webhook");
    expect(await page.textContent("#webhook-url-error")).toMatch(/link-local/);
    expect(await page.getAttribute("#webhook-url", "aria-invalid")).toBe("true");
    // Nothing typed is lost: the refused URL is still in its field, to be corrected.
    expect(await page.inputValue("#webhook-url")).toBe("http://169.254.169.254/latest/meta-data");
    await saveScreenshot(page, "team-notifications");

    // Another team's page does not show it.
    const other = await stack.createTeam();
    const otherPage = await (await signedIn(other.id)).newPage();
    await otherPage.goto(`${stack.url}/team`);
    expect(await otherPage.content()).not.toContain(listener.url);

    await page.goto(`${stack.url}/team`);
    await page.click(`[data-webhook="${hook.id}"] button`);
    expect(await page.textContent("[role=status]")).toContain("webhook was removed");
    expect(await page.locator("[data-webhook]").count()).toBe(0);
    await context.close();
  });
});
