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
