import { describe, expect, it } from "vitest";
import {
  explainFailure,
  FAILURE_CATEGORIES,
  FAILURE_EXPLANATIONS,
  hiddenRunFailureText,
  isFailureCategory,
} from "@holdout/contracts";

describe("failure explanations", () => {
  it("explain every failure category exactly once, and nothing else", () => {
    expect(Object.keys(FAILURE_EXPLANATIONS).sort()).toEqual([...FAILURE_CATEGORIES].sort());
    expect(new Set(FAILURE_CATEGORIES).size).toBe(FAILURE_CATEGORIES.length);
    for (const category of FAILURE_CATEGORIES) {
      expect(explainFailure(category)).toBe(FAILURE_EXPLANATIONS[category]);
    }
  });

  it("tell the categories apart: no two share a title, an account or an advice", () => {
    for (const part of ["title", "what", "next"] as const) {
      const texts = FAILURE_CATEGORIES.map((c) => explainFailure(c)[part]);
      expect(new Set(texts).size, part).toBe(FAILURE_CATEGORIES.length);
    }
    const hidden = FAILURE_CATEGORIES.map(hiddenRunFailureText);
    expect(new Set(hidden).size).toBe(FAILURE_CATEGORIES.length);
  });

  it("read the same on the web page and in a terminal", () => {
    // Both print them, in a different order around the message and the log: no "below" or "above".
    for (const category of FAILURE_CATEGORIES) {
      const { title, what, next } = explainFailure(category);
      for (const text of [title, what, next]) {
        expect(text.trim().length, category).toBeGreaterThan(10);
        expect(text, category).not.toMatch(/\b(below|above)\b/i);
      }
    }
  });

  it("say of a hidden-run failure only fixed words, and charge no infrastructure fault", () => {
    for (const category of FAILURE_CATEGORIES) {
      const text = hiddenRunFailureText(category);
      // No placeholder or number a run could fill: the same text for every submission.
      expect(text, category).not.toMatch(/[{}$]|\d/);
    }
    expect(hiddenRunFailureText("infrastructure")).toContain("not charged");
  });

  it("know a category read off the wire from one they do not", () => {
    expect(isFailureCategory("timeout")).toBe(true);
    expect(isFailureCategory("gpu_melted")).toBe(false);
  });
});
