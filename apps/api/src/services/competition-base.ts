/**
 * Where one competition's API and pages live: the default competition's at the top level (`/api/v1`
 * and `/`), every competition's under `/api/v1/competitions/{slug}` and `/c/{slug}`
 * (docs/architecture.md, "The HTTP API").
 */
export interface CompetitionBase {
  api: string;
  pages: string;
}

export const DEFAULT_BASE: CompetitionBase = { api: "/api/v1", pages: "" };

export function competitionBase(slug: string): CompetitionBase {
  return { api: `/api/v1/competitions/${slug}`, pages: `/c/${slug}` };
}
