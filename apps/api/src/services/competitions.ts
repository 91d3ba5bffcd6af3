import type { CompetitionSummary } from "@holdout/contracts/http";
import { listCompetitions, phaseJson, type Db, type Phase } from "@holdout/db";
import { competitionBase } from "./competition-base.ts";

const phaseView = (p: Phase | null) => p && phaseJson(p);

/**
 * Every competition on this server as the public sees it: where it stands and its current or next
 * phase, with the URLs of its API scope and its pages (for the API's list and the home page).
 */
export async function competitionSummaries(db: Db, at = new Date()): Promise<CompetitionSummary[]> {
  return (await listCompetitions(db, at)).map((c) => {
    const base = competitionBase(c.slug);
    return {
      slug: c.slug,
      name: c.name,
      // The API spells scorers as the command line does (docs/architecture.md, "Competitions and phases").
      scorer: c.scorer === "mean_auc" ? "mean-auc" : "chexpert",
      status: c.status,
      currentPhase: phaseView(c.currentPhase),
      nextPhase: phaseView(c.nextPhase),
      api: base.api,
      pages: `${base.pages}/`,
    };
  });
}
