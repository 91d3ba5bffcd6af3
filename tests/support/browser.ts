import { randomUUID } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { createSession, currentPhaseAt, type Db } from "@holdout/db";
import { TASKS } from "@holdout/scorer";
import { REPO_ROOT } from "./env.ts";

// Debian's Chromium, never a downloaded browser. The flags keep it off this machine's closed
// network (background services would otherwise try to reach out at every start).
export const CHROMIUM_PATH = process.env.HOLDOUT_CHROMIUM ?? "/usr/bin/chromium";

export function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
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
      ...extraArgs,
    ],
  });
}

// Page-side functions run in Chromium; the project compiles without the DOM library, so the few
// DOM members the tests use are declared here and reached through globalThis.
export interface DomElement {
  id: string;
  type: string;
  outerHTML: string;
  value: number;
  textContent: string | null;
  labels: { length: number } | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): DomElement | null;
  getBoundingClientRect(): { height: number };
}
export interface DomWindow {
  document: {
    activeElement: DomElement | null;
    body: DomElement;
    documentElement: { scrollWidth: number };
    querySelector(selector: string): DomElement | null;
    querySelectorAll(selector: string): ArrayLike<DomElement>;
    getElementById(id: string): DomElement | null;
  };
  innerWidth: number;
  getComputedStyle(el: DomElement): { color: string; backgroundColor: string; borderLeftStyle: string };
  MutationObserver: new (callback: () => void) => {
    observe(target: DomElement, opts: { attributes: boolean }): void;
  };
}

/** Screenshots are kept as test artifacts (gitignored), one file per page and viewport. */
export const SCREENSHOT_DIR = path.join(REPO_ROOT, "test-artifacts", "screenshots");

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Saves a full-page screenshot and checks it is a real, non-empty PNG: the signature, an IHDR with
 * a non-zero size. Returns the width and height it read from the file.
 */
export async function saveScreenshot(
  page: Page,
  name: string,
): Promise<{ file: string; width: number; height: number }> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  const png = await readFile(file);
  if (
    png.length < 100 ||
    !png.subarray(0, 8).equals(PNG_SIGNATURE) ||
    png.toString("latin1", 12, 16) !== "IHDR"
  ) {
    throw new Error(`${file} is not a PNG image`);
  }
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  if (width === 0 || height === 0) throw new Error(`${file} is an empty image (${width}x${height})`);
  return { file, width, height };
}

/** A signed-in browser session for a team or organizer, as the `holdout_session` cookie header. */
export async function sessionCookieFor(
  db: Db,
  owner: { teamId: string } | { accountId: string },
): Promise<string> {
  const { token } = await createSession(db, owner, 3600_000);
  return `holdout_session=${token}`;
}

// ---- seeding rows for page tests (the worker's output, written directly) ----

export interface SeedScored {
  competitionId: string;
  teamId: string;
  model: string;
  meanAuc: number;
  rads?: number;
  ci?: [number, number] | null;
  tied?: boolean | null;
  createdAt?: Date;
  link?: string | null;
  ensemble?: boolean;
  /** Store ROC/PR curves and reader points with each task result. */
  curves?: boolean;
}

/** A small ROC and PR curve with three readers and their majority, shaped like the scorer's output. */
export function sampleCurves(shift: number) {
  return {
    roc: [
      [0, 0],
      [0.05, 0.4 + shift],
      [0.2, 0.75 + shift],
      [0.5, 0.92],
      [1, 1],
    ] as [number, number][],
    curves: {
      pr: [
        [1, 0.3],
        [0.92, 0.5],
        [0.75 + shift, 0.7],
        [0.4 + shift, 0.9],
        [0, 1],
      ],
      readerPoints: [
        { id: "rad1", fpr: 0.1, sensitivity: 0.6, precision: 0.7 },
        { id: "rad2", fpr: 0.25, sensitivity: 0.85, precision: 0.6 },
        { id: "rad3", fpr: 0.15, sensitivity: 0.7, precision: null },
      ],
      majority: { fpr: 0.12, sensitivity: 0.72, precision: 0.68 },
    },
  };
}

/** A scored submission as the worker leaves it (means, per-task results, intervals, tie flag). */
export async function seedScored(db: Db, s: SeedScored): Promise<string> {
  const id = randomUUID();
  const rads = s.rads ?? 1.8;
  const at = s.createdAt ?? new Date();
  await db.submission.create({
    data: {
      id,
      competitionId: s.competitionId,
      phaseId: (await currentPhaseAt(db, s.competitionId, new Date())).id,
      teamId: s.teamId,
      modelName: s.model,
      link: s.link ?? null,
      ensemble: s.ensemble ?? false,
      uploadFile: `${id}.tar`,
      uploadSize: BigInt(1234),
      uploadSha256: "0".repeat(64),
      state: "scored",
      meanAuc: s.meanAuc,
      meanRadsBelowCurve: rads,
      score: s.meanAuc + 0.001 * rads,
      meanAucLo: s.ci === undefined ? s.meanAuc - 0.02 : (s.ci?.[0] ?? null),
      meanAucHi: s.ci === undefined ? s.meanAuc + 0.02 : (s.ci?.[1] ?? null),
      tiedWithLeader: s.tied ?? null,
      createdAt: at,
      queuedAt: at,
      startedAt: at,
      finishedAt: at,
      results: {
        create: TASKS.map((task, i) => {
          const c = sampleCurves(i * 0.01);
          return {
            task,
            auc: s.meanAuc + (i - 2) * 0.01,
            aucLo: s.meanAuc + (i - 2) * 0.01 - 0.03,
            aucHi: s.meanAuc + (i - 2) * 0.01 + 0.03,
            radsBelowCurve: i % 4,
            roc: c.roc,
            ...(s.curves ? { curves: c.curves } : {}),
          };
        }),
      },
      events: {
        create: [
          { state: "received", at },
          { state: "queued", at },
          { state: "running", at, worker: "worker-a" },
          { state: "scoring", at, worker: "worker-a" },
          { state: "scored", at, worker: "worker-a", detail: `mean AUC ${s.meanAuc}` },
        ],
      },
    },
  });
  return id;
}

/** A submission in any non-scored state, optionally failed with a category. */
export async function seedSubmission(
  db: Db,
  s: {
    competitionId: string;
    teamId: string;
    model: string;
    state: "received" | "queued" | "running" | "failed" | "cancelled";
    failure?: { category: string; message: string; phase?: "smoke" | "hidden"; refunded?: boolean };
    smokeLog?: string;
  },
): Promise<string> {
  const id = randomUUID();
  const now = new Date();
  await db.submission.create({
    data: {
      id,
      competitionId: s.competitionId,
      phaseId: (await currentPhaseAt(db, s.competitionId, new Date())).id,
      teamId: s.teamId,
      modelName: s.model,
      uploadFile: `${id}.tar`,
      uploadSize: BigInt(99),
      uploadSha256: "1".repeat(64),
      state: s.state,
      queuedAt: s.state === "received" ? null : now,
      ...(s.failure
        ? {
            failureCategory: s.failure.category as never,
            failureMessage: s.failure.message,
            failedPhase: s.failure.phase ?? null,
            refunded: s.failure.refunded ?? false,
            finishedAt: now,
          }
        : {}),
      events: { create: [{ state: "received", at: now, detail: "upload of 99 bytes" }] },
      ...(s.smokeLog ? { logs: { create: [{ phase: "smoke", text: s.smokeLog }] } } : {}),
    },
  });
  return id;
}
