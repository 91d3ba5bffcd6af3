import { describe, expect, it } from "vitest";
import { explainFailure, FAILURE_CATEGORIES } from "@holdout/contracts";
import type { SubmissionDetail } from "@holdout/contracts/http";
import { report } from "../src/commands/submit.ts";

const ID = "0b7e3c1a-5d2f-4e8b-9a6c-1f2e3d4c5b6a";

function failed(category: string, failedPhase: "smoke" | "hidden" | null): SubmissionDetail {
  return {
    id: ID,
    team: "Team",
    baseline: false,
    model: "Model",
    description: null,
    link: null,
    ensemble: false,
    kind: "image",
    command: null,
    hidden: false,
    state: "failed",
    failure: { category, message: `message for ${category}` },
    upload: { size: 1, sha256: "0".repeat(64) },
    image: null,
    meanAuc: null,
    meanAuc95: null,
    meanRadsBelowCurve: null,
    tasks: [],
    precision: { auc: 3, rads: 1 },
    privatePart: null,
    final: false,
    ladder: null,
    createdAt: "2026-12-01T00:00:00.000Z",
    queuedAt: null,
    startedAt: null,
    finishedAt: null,
    links: { self: "", log: "", events: "", curves: "" },
    queuePosition: null,
    estimatedStartAt: null,
    refunded: failedPhase === "smoke",
    failedPhase,
    provenance: null,
  };
}

function printed(s: SubmissionDetail): { code: number; lines: string[] } {
  const lines: string[] = [];
  const code = report(s, (line) => lines.push(line));
  return { code, lines };
}

describe("holdout's report of a failed submission", () => {
  it("gives, for every category, the same advice as the web page", () => {
    for (const category of FAILURE_CATEGORIES) {
      const { code, lines } = printed(failed(category, "hidden"));
      expect(code).toBe(1);
      expect(lines).toContain(`failed (${category}, hidden run): message for ${category}`);
      expect(lines).toContain(`what to do: ${explainFailure(category).next}`);
    }
  });

  it("points a smoke-run failure at its log, by the submission's id", () => {
    const { lines } = printed(failed("nonzero_exit", "smoke"));
    const advice = lines.find((l) => l.startsWith("what to do: "));
    expect(advice).toContain(`holdout status ${ID} --log smoke`);
    expect(lines).toContain("this submission is not charged to your team's quota");
  });

  it("still says something of a category a newer server knows and this CLI does not", () => {
    const { code, lines } = printed(failed("gpu_melted", null));
    expect(code).toBe(1);
    expect(lines).toContain("what to do: See the message above.");
  });
});
