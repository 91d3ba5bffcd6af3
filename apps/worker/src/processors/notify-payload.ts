import { releasedFigures } from "@holdout/scorer";
import type { findEndedSubmission } from "@holdout/db";

// What a notification says about a submission's end: only what its team may read on its page. The
// hidden set's boundary applies (docs/architecture.md): the state, the failure *category* (never the
// message, which may come from the run), and the board's aggregate scores rounded to the released
// precision (@holdout/scorer's releasedFigures, as the API's views release them): none for a ladder
// entry that did not improve, the public part's with a split.

export type EndedSubmission = NonNullable<Awaited<ReturnType<typeof findEndedSubmission>>>;

export const FINAL_STATES = ["scored", "failed", "cancelled"] as const;
export type FinalState = (typeof FINAL_STATES)[number];

export function isFinal(state: string): state is FinalState {
  return (FINAL_STATES as readonly string[]).includes(state);
}

export interface SubmissionEnded {
  event: "submission.ended";
  submission: {
    id: string;
    competition: string;
    model: string;
    state: FinalState;
    failureCategory: string | null;
    finishedAt: string | null;
    /** At the released precision; null unless scored and released. */
    scores: { meanAuc: number; meanRadsBelowCurve: number; score: number } | null;
    url: string;
  };
}

export function releasedScores(s: EndedSubmission): SubmissionEnded["submission"]["scores"] {
  if (s.state !== "scored" || s.ladderImproved === false) return null;
  const split = s.competition.splitFraction !== null;
  const source = split ? s.parts[0] : s;
  if (!source || source.meanAuc === null || source.meanRadsBelowCurve === null) return null;
  return releasedFigures(source.meanAuc, source.meanRadsBelowCurve, s.competition);
}

/** The submission's page: under the competition's own pages, which every competition has. */
export function submissionPageUrl(s: EndedSubmission, publicUrl: string | undefined): string {
  const path = `/c/${encodeURIComponent(s.competition.slug)}/submissions/${s.id}`;
  return publicUrl ? new URL(path, publicUrl).toString() : path;
}

export function endedPayload(
  s: EndedSubmission & { state: FinalState },
  publicUrl?: string,
): SubmissionEnded {
  return {
    event: "submission.ended",
    submission: {
      id: s.id,
      competition: s.competition.slug,
      model: s.modelName,
      state: s.state,
      failureCategory: s.failureCategory,
      finishedAt: s.finishedAt?.toISOString() ?? null,
      scores: releasedScores(s),
      url: submissionPageUrl(s, publicUrl),
    },
  };
}
