import { describe, expect, it } from "vitest";
import { teamMessage } from "../src/processors/notify.job.ts";
import { endedPayload, releasedScores, type EndedSubmission } from "../src/processors/notify-payload.ts";

// What a notification says of a submission's end: the team's view, at the released precision.
function ended(over: Partial<EndedSubmission> = {}): EndedSubmission {
  return {
    id: "0b9d7a4e-6a43-4b8e-9a43-2f4c2b3f1a10",
    state: "scored",
    failureCategory: null,
    modelName: "densenet",
    finishedAt: new Date("2026-12-11T12:00:00Z"),
    meanAuc: 0.876543,
    meanRadsBelowCurve: 1.83,
    ladderImproved: null,
    parts: [],
    competition: {
      slug: "chexpert",
      name: "CheXpert",
      scorer: "chexpert",
      aucDecimals: 3,
      radsDecimals: 1,
      splitFraction: null,
    },
    team: { id: "t", name: "T", contactEmail: null, notifications: null, webhooks: [] },
    ...over,
  };
}

describe("a notification's scores", () => {
  it("are the whole set's, rounded as the team reads them", () => {
    expect(releasedScores(ended())).toEqual({ meanAuc: 0.877, meanRadsBelowCurve: 1.8, score: 0.8788 });
  });

  it("are the public part's with a split, never the whole set's", () => {
    const s = ended({
      competition: {
        slug: "c",
        name: "C",
        scorer: "chexpert",
        aucDecimals: 3,
        radsDecimals: 1,
        splitFraction: 0.5,
      },
      parts: [{ meanAuc: 0.81234, meanRadsBelowCurve: 2.04 }],
    });
    expect(releasedScores(s)).toEqual({ meanAuc: 0.812, meanRadsBelowCurve: 2, score: 0.814 });
  });

  it("are withheld for a ladder entry that did not improve, and absent unless scored", () => {
    expect(releasedScores(ended({ ladderImproved: false }))).toBeNull();
    expect(releasedScores(ended({ state: "failed", failureCategory: "timeout" }))).toBeNull();
  });

  it("carry the page's path, or its full URL with the public address", () => {
    const s = { ...ended(), state: "scored" as const };
    expect(endedPayload(s).submission.url).toBe(`/c/chexpert/submissions/${s.id}`);
    expect(endedPayload(s, "https://holdout.example.org").submission.url).toBe(
      `https://holdout.example.org/c/chexpert/submissions/${s.id}`,
    );
  });

  it("read in an e-mail as on the page: the released digits, the readers only for the CheXpert scorer", () => {
    const chexpert = teamMessage({ ...ended({ meanAuc: 0.88 }), state: "scored" }, undefined).text;
    expect(chexpert).toContain("Mean AUC: 0.880\n");
    expect(chexpert).toContain("Radiologists below the curve: 1.8\n");
    const base = ended();
    const triage = teamMessage(
      { ...ended({ competition: { ...base.competition, scorer: "mean_auc" } }), state: "scored" },
      undefined,
    ).text;
    expect(triage).toContain("Mean AUC: 0.877\n");
    expect(triage).not.toContain("Radiologists");
  });
});
