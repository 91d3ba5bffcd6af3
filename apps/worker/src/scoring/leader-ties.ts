import { updateLeaderTies, type Db } from "@holdout/db";
import type { BootstrapOptions } from "@holdout/scorer";
import type { HiddenTestset } from "./hidden-testset.ts";
import { boardStudies, decideTies } from "./scores.ts";

/**
 * Recomputes the competition's "tied with the leader" marks (see decideTies) on each board it shows
 * (the whole set's, or each part's of a split), serialized per competition in the database. Called after every score and re-score, and by the leader-ties job
 * the API enqueues when an entry is hidden, shown, disqualified or requalified.
 */
export function refreshLeaderTies(
  deps: { db: Db; testset: HiddenTestset; bootstrap: BootstrapOptions },
  competitionId: string,
): Promise<{ listed: number; changed: number }> {
  return updateLeaderTies(deps.db, competitionId, (board, listed, split) =>
    decideTies(deps.testset, listed, deps.bootstrap, boardStudies(deps.testset, board, split)),
  );
}
