import { chromium, type Browser } from "playwright-core";

// Debian's Chromium, never a downloaded browser. The flags keep it off this machine's closed
// network (background services would otherwise try to reach out at every start).
export const CHROMIUM_PATH = process.env.HOLDOUT_CHROMIUM ?? "/usr/bin/chromium";

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
