import { CompetitionClosedError, FinalSelectionError, setSelectedFinal, type Db } from "@holdout/db";
import { Errors } from "../errors.ts";
import { UUID } from "../schemas/common.ts";
import { competitionClosed } from "./release.ts";

/**
 * A team's choice of final submission, as the API (routes/finals.ts) and the team page make it: the
 * problem for each refusal, and 404 for anything that is not the team's own.
 */
export async function chooseFinal(db: Db, teamId: string, id: string, selected: boolean): Promise<string[]> {
  if (!UUID.test(id)) throw new Errors.NotFound(`no submission ${id}`);
  try {
    return await setSelectedFinal(db, teamId, id, selected);
  } catch (err) {
    if (err instanceof FinalSelectionError) throw new Errors.FinalSelection(err.message);
    if (err instanceof CompetitionClosedError) throw competitionClosed();
    // findFirstOrThrow: not this team's submission.
    if ((err as { code?: string }).code === "P2025") throw new Errors.NotFound(`no submission ${id}`);
    throw err;
  }
}
