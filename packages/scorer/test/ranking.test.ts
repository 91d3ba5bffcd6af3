import { describe, expect, it } from "vitest";
import { formatAuc, formatRads, rankEntries } from "@holdout/scorer";

describe("rankEntries", () => {
  it("sorts by meanAuc + 0.001 * meanRads with dense ranks shared by equal scores", () => {
    const ranked = rankEntries([
      { name: "a", meanAuc: 0.9, meanRadsBelowCurve: 2 },
      { name: "low", meanAuc: 0.8, meanRadsBelowCurve: 3 },
      { name: "b", meanAuc: 0.9, meanRadsBelowCurve: 2 },
      { name: "more-rads", meanAuc: 0.9, meanRadsBelowCurve: 2.6 },
    ]);
    // Scores: more-rads 0.9026, a = b 0.902, low 0.803. Dense: 1, 2, 2, 3 (not 1, 2, 2, 4).
    expect(ranked.map((e) => [e.name, e.rank])).toEqual([
      ["more-rads", 1],
      ["a", 2],
      ["b", 2],
      ["low", 3],
    ]);
    expect(ranked[0]?.score).toBe(0.9 + 0.001 * 2.6);
  });

  it("returns an empty list for no entries and refuses non-finite means", () => {
    expect(rankEntries([])).toEqual([]);
    expect(() => rankEntries([{ meanAuc: Number.NaN, meanRadsBelowCurve: 1 }])).toThrow(/cannot rank/);
  });
});

describe("display formatting", () => {
  it("shows AUC to 3 significant digits", () => {
    expect(formatAuc(0.9266282)).toBe("0.927");
    expect(formatAuc(0.8)).toBe("0.800");
    expect(formatAuc(1)).toBe("1.00");
  });

  it("shows radiologists below the curve to 2 significant digits", () => {
    expect(formatRads(2.6)).toBe("2.6");
    expect(formatRads(0)).toBe("0.0");
    expect(formatRads(3)).toBe("3.0");
    // Literally 2 significant digits below 1: 0.2 -> "0.20".
    expect(formatRads(0.2)).toBe("0.20");
  });
});
