import { workerLimitsOf, type WorkerLimits } from "@holdout/contracts";
import type { CompetitionPage } from "@holdout/contracts/http";
import {
  competitionStatus,
  findCompetitionPage,
  findRuntimeImage,
  latestReaderCurves,
  liveWorkerSettings,
  phaseJson,
  updateCompetitionProse,
  type AuditActor,
  type Db,
  type RuntimePackage,
} from "@holdout/db";
import type { BundleLimits } from "./bundle.ts";
import { cliPackageFileName, serverVersion } from "./cli-package.ts";
import type { CompetitionBase } from "./competition-base.ts";
import {
  metricText,
  STANDARD_DATA,
  STANDARD_OVERVIEW,
  STANDARD_RULES,
  STANDARD_TERMS,
} from "./competition-page-text.ts";
import { curvesOf } from "./curves.ts";
import { LIVE_WORKER_MS } from "./queue-position.ts";

export interface CompetitionPageSource {
  /**
   * The page as of now, read afresh from the database on every call: an organizer's edit, a
   * setting changed or a worker restarted with other limits shows at once, in every API process.
   * Null when the competition is gone.
   */
  read(origin: string, at?: Date): Promise<CompetitionPage | null>;
}

export interface CompetitionPageDeps {
  db: Db;
  competitionId: string;
  base: CompetitionBase;
  maxUploadBytes: number;
  bundleLimits: BundleLimits;
}

const prose = (text: string | null, standard: string) =>
  text === null || text.trim() === ""
    ? { markdown: standard, standard: true }
    : { markdown: text, standard: false };

/** Live workers' limits, grouped: identical limit sets are one row with their count. */
function groupLimits(all: readonly WorkerLimits[]) {
  const groups = new Map<string, CompetitionPage["limits"]["workers"][number]>();
  for (const worker of all) {
    // Which competitions a worker serves is not a limit (and this list is already this competition's).
    const limits: Omit<WorkerLimits, "competitions"> & { competitions?: unknown } = { ...worker };
    delete limits.competitions;
    const key = JSON.stringify(limits);
    const seen = groups.get(key);
    if (seen) seen.workers += 1;
    else groups.set(key, { workers: 1, ...limits });
  }
  return [...groups.values()];
}

const packagesOf = (v: unknown): RuntimePackage[] =>
  Array.isArray(v)
    ? v.filter(
        (p): p is RuntimePackage =>
          typeof p === "object" &&
          p !== null &&
          ((p as RuntimePackage).source === "deb" || (p as RuntimePackage).source === "python") &&
          typeof (p as RuntimePackage).name === "string" &&
          typeof (p as RuntimePackage).version === "string",
      )
    : [];

/**
 * The competition page (docs/architecture.md, "The competition page"): its prose, the metric and
 * its rules, the released precision, how to take part, and the limits in force, read from where
 * they are set (the competition's row, the API's settings, the workers' heartbeats, the runtime
 * image's listing) rather than written by hand. The readers' operating points on the hidden set
 * follow the curves: published when the competition closes, as the hidden set's boundary says.
 */
export function competitionPageSource(deps: CompetitionPageDeps): CompetitionPageSource {
  const { db, base } = deps;
  return {
    async read(origin, at = new Date()) {
      const c = await findCompetitionPage(db, deps.competitionId);
      if (!c) return null;
      const scorer = c.scorer === "mean_auc" ? "mean-auc" : "chexpert";
      const liveSince = new Date(at.getTime() - LIVE_WORKER_MS);
      const workers = (await liveWorkerSettings(db, liveSince)).flatMap((w) => {
        const limits = workerLimitsOf(w.limits);
        // A worker pinned to other competitions never runs this one's submissions.
        if (!limits || (limits.competitions && !limits.competitions.includes(c.slug))) return [];
        return [{ limits, runtimeImageId: w.runtimeImageId }];
      });
      const workerRuntime = workers.find((w) => w.runtimeImageId)?.runtimeImageId ?? null;
      const runtimeRow = c.runtimeImage
        ? await findRuntimeImage(db, { ref: c.runtimeImage })
        : workerRuntime
          ? await findRuntimeImage(db, { imageId: workerRuntime })
          : null;
      const runtimeName = c.runtimeImage ?? runtimeRow?.ref ?? null;
      const cliFile = cliPackageFileName(await serverVersion());
      const closed = c.state === "closed";
      return {
        slug: c.slug,
        name: c.name,
        status: competitionStatus(c.state, c.phases, at),
        closedAt: c.closedAt?.toISOString() ?? null,
        overview: prose(c.pageOverview, STANDARD_OVERVIEW[scorer]),
        data: prose(c.pageData, STANDARD_DATA),
        rules: prose(c.pageRules, STANDARD_RULES),
        terms: prose(c.terms, STANDARD_TERMS),
        metric: { scorer, tasks: [...c.tasks], ...metricText(scorer, c.tasks) },
        precision: {
          aucDecimals: c.aucDecimals,
          radsDecimals: scorer === "chexpert" ? c.radsDecimals : null,
        },
        aucFloor: c.aucFloor,
        readers: scorer === "chexpert" ? await readersOf(db, c.id, closed) : null,
        participate: {
          registrationOpen: c.registrationOpen,
          requireApproval: c.requireApproval,
          register: `${origin}${base.pages}/register`,
          submit: `${origin}${base.pages}/submit`,
          api: `${origin}${base.api}`,
          cliInstall: `npm install -g ${origin}/cli/${cliFile}`,
          developmentSet:
            scorer === "chexpert"
              ? "holdout testset generate --dev --out devset"
              : "holdout testset generate --scorer mean-auc --dev --out devset",
        },
        limits: {
          uploadMaxBytes: deps.maxUploadBytes,
          bundleMaxBytes: deps.bundleLimits.maxBytes,
          bundleMaxFiles: deps.bundleLimits.maxFiles,
          workers: groupLimits(workers.map((w) => w.limits)),
        },
        runtime: runtimeName
          ? {
              image: runtimeName,
              imageId: runtimeRow?.imageId ?? null,
              listedAt: runtimeRow?.listedAt.toISOString() ?? null,
              packages: packagesOf(runtimeRow?.packages),
            }
          : null,
        quota: {
          perDay: c.quotaPerDay,
          total: c.quotaTotal,
          note: "Per rolling 24 hours and in all; a phase may set its own. Failures count, except infrastructure failures and failed smoke runs.",
        },
        phases: c.phases.map((p) => ({
          ...phaseJson(p),
          quotaPerDay: p.quotaPerDay,
          quotaTotal: p.quotaTotal,
        })),
        ladder: c.ladder,
        split: c.splitFraction !== null,
      };
    },
  };
}

/**
 * The radiologists' operating points on the hidden set: aggregate figures, but on the hidden
 * labels, so they are released with the curves, once the competition is closed.
 */
async function readersOf(
  db: Db,
  competitionId: string,
  closed: boolean,
): Promise<CompetitionPage["readers"]> {
  if (!closed) {
    return {
      published: false,
      note: "The benchmark radiologists' operating points on the hidden test set are published with the ROC curves when the competition closes.",
      points: [],
    };
  }
  const points = (await latestReaderCurves(db, competitionId)).flatMap((r) =>
    curvesOf(r.curves).readers.map((p) => ({
      task: r.task,
      reader: p.id,
      sensitivity: p.sensitivity,
      specificity: 1 - p.fpr,
    })),
  );
  return {
    published: true,
    note:
      points.length > 0
        ? "Each radiologist's sensitivity and specificity on the hidden test set, per task."
        : "No submission was scored on the hidden test set, so no operating point was computed.",
    points,
  };
}

/** The longest section (or terms) an organizer may write, in characters. */
export const PROSE_MAX_CHARS = 20_000;

export type ProsePatch = Partial<Record<"overview" | "data" | "rules" | "terms", string>>;

/**
 * An organizer's edit of the page's prose and the terms (the API, the organizer page): an empty
 * part puts the standard text back. Changed parts are audited; the page reads them on its next
 * request, so the edit shows at once.
 */
export async function editCompetitionProse(db: Db, by: AuditActor, patch: ProsePatch) {
  const part = (v: string | undefined) =>
    v === undefined ? undefined : v.trim() === "" ? null : v.replace(/\r\n/g, "\n");
  return updateCompetitionProse(db, by, {
    pageOverview: part(patch.overview),
    pageData: part(patch.data),
    pageRules: part(patch.rules),
    terms: part(patch.terms),
  });
}
