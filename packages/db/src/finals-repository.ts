import type { Db } from "./client.ts";
import { CompetitionClosedError } from "./submission-repository.ts";

/** A team may rank at most this many final submissions on the private part (as on Kaggle). */
export const MAX_FINALS = 2;

/** A final choice that cannot be made; the message says why, for the team. */
export class FinalSelectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FinalSelectionError";
  }
}

/**
 * Marks one of a team's submissions as a final (or withdraws the mark). Only in a competition with a
 * public/private split that is still open, only a scored entry the ladder did not withhold and that
 * is not disqualified, at most MAX_FINALS per team: checked and written under a lock on the team's
 * row, so two requests at once cannot both take the last place. Returns the team's finals after it.
 */
export async function setSelectedFinal(
  db: Db,
  teamId: string,
  submissionId: string,
  selected: boolean,
): Promise<string[]> {
  return db.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT id FROM "Team" WHERE id = ${teamId}::uuid FOR UPDATE`;
    const s = await tx.submission.findFirstOrThrow({
      where: { id: submissionId, teamId },
      select: {
        state: true,
        disqualified: true,
        ladderImproved: true,
        competition: { select: { state: true, splitFraction: true } },
      },
    });
    if (s.competition.state === "closed") throw new CompetitionClosedError();
    if (s.competition.splitFraction === null) {
      throw new FinalSelectionError(
        "this competition ranks every entry on the whole test set: there are no finals to choose",
      );
    }
    if (selected) {
      if (s.state !== "scored")
        throw new FinalSelectionError(`only a scored entry can be final (this one is ${s.state})`);
      if (s.disqualified) throw new FinalSelectionError("a disqualified entry cannot be final");
      if (s.ladderImproved === false) {
        throw new FinalSelectionError("an entry whose score the ladder withheld cannot be final");
      }
      const others = await tx.submission.count({
        where: { teamId, selectedFinal: true, id: { not: submissionId } },
      });
      if (others >= MAX_FINALS) {
        throw new FinalSelectionError(
          `a team chooses at most ${MAX_FINALS} final submissions: withdraw one of yours first`,
        );
      }
    }
    await tx.submission.update({ where: { id: submissionId }, data: { selectedFinal: selected } });
    const finals = await tx.submission.findMany({
      where: { teamId, selectedFinal: true },
      orderBy: { createdAt: "asc" },
      select: { id: true },
    });
    return finals.map((f) => f.id);
  });
}
