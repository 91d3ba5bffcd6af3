import type { Db } from "./client.ts";

export interface CompetitionSpec {
  slug: string;
  name: string;
  aucFloor?: number;
}

/** Creates the competition on first use; later calls return it unchanged. */
export async function ensureCompetition(db: Db, spec: CompetitionSpec) {
  return db.competition.upsert({
    where: { slug: spec.slug },
    create: { slug: spec.slug, name: spec.name, aucFloor: spec.aucFloor ?? 0.7 },
    update: {},
  });
}

export async function findCompetitionBySlug(db: Db, slug: string) {
  return db.competition.findUnique({ where: { slug } });
}

export interface CompetitionSettings {
  registrationOpen: boolean;
  requireApproval: boolean;
  quotaPerDay: number;
  quotaTotal: number;
}

const SETTINGS_SELECT = {
  registrationOpen: true,
  requireApproval: true,
  quotaPerDay: true,
  quotaTotal: true,
} as const;

/** Read on every use, never cached: an organizer may close registration at any moment. */
export async function getCompetitionSettings(db: Db, competitionId: string): Promise<CompetitionSettings> {
  return db.competition.findUniqueOrThrow({ where: { id: competitionId }, select: SETTINGS_SELECT });
}

export async function updateCompetitionSettings(
  db: Db,
  competitionId: string,
  patch: Partial<CompetitionSettings>,
): Promise<CompetitionSettings> {
  return db.competition.update({ where: { id: competitionId }, data: patch, select: SETTINGS_SELECT });
}
