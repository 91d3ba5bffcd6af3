import { recordAudit, type AuditActor } from "./audit-repository.ts";
import type { Db } from "./client.ts";
import type { Prisma } from "./generated/prisma/client.ts";

/** What a competition page shows of the competition itself, read afresh for each request. */
export async function findCompetitionPage(db: Db, competitionId: string) {
  return db.competition.findUnique({
    where: { id: competitionId },
    select: {
      id: true,
      slug: true,
      name: true,
      scorer: true,
      tasks: true,
      state: true,
      closedAt: true,
      aucFloor: true,
      aucDecimals: true,
      radsDecimals: true,
      quotaPerDay: true,
      quotaTotal: true,
      registrationOpen: true,
      requireApproval: true,
      ladder: true,
      splitFraction: true,
      runtimeImage: true,
      devsetDir: true,
      terms: true,
      pageOverview: true,
      pageData: true,
      pageRules: true,
      phases: { orderBy: { ordinal: "asc" } },
    },
  });
}

/** The organizer-written parts of a competition page; null puts the standard text back. */
export interface CompetitionProse {
  pageOverview: string | null;
  pageData: string | null;
  pageRules: string | null;
  terms: string | null;
}

const PROSE_FIELDS = ["pageOverview", "pageData", "pageRules", "terms"] as const;

/**
 * Changes the page's prose and the terms, with one audit row naming the parts changed (not their
 * text: the audit log is a list of actions). Parts absent from the patch are kept.
 */
export async function updateCompetitionProse(
  db: Db,
  by: AuditActor,
  patch: Partial<CompetitionProse>,
): Promise<CompetitionProse> {
  return db.$transaction(async (tx) => {
    const before = await tx.competition.findUniqueOrThrow({
      where: { id: by.competitionId },
      select: { pageOverview: true, pageData: true, pageRules: true, terms: true },
    });
    const changed = PROSE_FIELDS.filter((f) => patch[f] !== undefined && patch[f] !== before[f]);
    if (changed.length === 0) return before;
    const data = Object.fromEntries(changed.map((f) => [f, patch[f] ?? null]));
    const after = await tx.competition.update({
      where: { id: by.competitionId },
      data,
      select: { pageOverview: true, pageData: true, pageRules: true, terms: true },
    });
    await recordAudit(tx, by, {
      action: "competition.page",
      targetType: "competition",
      targetId: by.competitionId,
      detail: `changed: ${changed.join(", ")}`,
    });
    return after;
  });
}

/** One listed package of a runtime image. */
export interface RuntimePackage {
  source: "deb" | "python";
  name: string;
  version: string;
}

/** Records what a runtime image holds (a worker lists it once, when it pins the image). */
export async function recordRuntimeImage(
  db: Db,
  image: { imageId: string; ref: string; packages: readonly RuntimePackage[] },
  now = new Date(),
): Promise<void> {
  const packages = image.packages as unknown as Prisma.InputJsonValue;
  await db.runtimeImage.upsert({
    where: { imageId: image.imageId },
    create: { imageId: image.imageId, ref: image.ref, packages, listedAt: now },
    update: { ref: image.ref, packages, listedAt: now },
  });
}

/** Whether a runtime image's packages are already listed (a worker then does not list them again). */
export async function runtimeImageListed(db: Db, imageId: string): Promise<boolean> {
  return (await db.runtimeImage.count({ where: { imageId } })) > 0;
}

/** A runtime image's listing by its ID, or the newest one listed under a name; null if none. */
export async function findRuntimeImage(db: Db, by: { imageId: string } | { ref: string }) {
  return "imageId" in by
    ? db.runtimeImage.findUnique({ where: { imageId: by.imageId } })
    : db.runtimeImage.findFirst({ where: { ref: by.ref }, orderBy: { listedAt: "desc" } });
}

/** The workers seen since `since`, with the limits they apply and their runtime image. */
export async function liveWorkerSettings(db: Db, since: Date) {
  return db.workerHeartbeat.findMany({
    where: { lastSeenAt: { gte: since } },
    orderBy: { name: "asc" },
    select: { name: true, limits: true, runtimeImageId: true },
  });
}

/**
 * The radiologists' operating points per task as the worker stored them with the curves of the
 * competition's latest scored hidden-set run (the same for every run on the same set). The caller
 * decides whether they may be shown (docs/architecture.md, "The hidden set's boundary").
 */
export async function latestReaderCurves(db: Db, competitionId: string) {
  const latest = await db.submission.findFirst({
    where: { competitionId, state: "scored", phase: { data: { not: "development" } } },
    orderBy: { finishedAt: "desc" },
    select: { results: { select: { task: true, curves: true } } },
  });
  return latest?.results ?? [];
}

/** The runtime images competitions name (those of `slugs`, or all), distinct. */
export async function competitionRuntimeImages(db: Db, slugs: readonly string[] | null): Promise<string[]> {
  const rows = await db.competition.findMany({
    where: { runtimeImage: { not: null }, ...(slugs ? { slug: { in: [...slugs] } } : {}) },
    select: { runtimeImage: true },
    distinct: ["runtimeImage"],
  });
  return rows.flatMap((r) => (r.runtimeImage ? [r.runtimeImage] : []));
}

/** The terms a competition's teams accept when they register; null: the server's standard text. */
export async function competitionTerms(db: Db, competitionId: string): Promise<string | null> {
  const c = await db.competition.findUnique({ where: { id: competitionId }, select: { terms: true } });
  return c?.terms ?? null;
}
