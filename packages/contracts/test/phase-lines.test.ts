import { describe, expect, it } from "vitest";
import { defaultPhases, parsePhaseLine, parsePhaseLines, PhaseLineError } from "../src/phase-lines.ts";

const NOW = new Date("2027-01-10T12:00:00Z");

describe("phase lines", () => {
  it("reads times as ISO, now or from now, with defaults by data", () => {
    expect(parsePhaseLines(["# comment", "Dev,development,now,+14d", "", "Test,hidden,+14d,"], NOW)).toEqual([
      {
        name: "Dev",
        data: "development",
        startsAt: NOW,
        endsAt: new Date("2027-01-24T12:00:00Z"),
        feedback: "full",
        ranked: false,
      },
      {
        name: "Test",
        data: "hidden",
        startsAt: new Date("2027-01-24T12:00:00Z"),
        endsAt: null,
        feedback: "released",
        ranked: true,
      },
    ]);
    expect(
      parsePhaseLine("Public, hidden_public, 2027-02-01T00:00Z, open, released, unranked", 3, NOW),
    ).toEqual({
      name: "Public",
      data: "hidden_public",
      startsAt: new Date("2027-02-01T00:00:00Z"),
      endsAt: null,
      feedback: "released",
      ranked: false,
    });
    expect(defaultPhases(NOW)).toEqual([
      {
        name: "Hidden test set",
        data: "hidden",
        startsAt: NOW,
        endsAt: null,
        feedback: "released",
        ranked: true,
      },
    ]);
  });

  it("names the line and the field it cannot read", () => {
    const cases: [string, string][] = [
      [
        "A,hidden",
        'phase 2: "A,hidden" has 2 field(s); expected name,data,start,end[,feedback[,ranked|unranked]]',
      ],
      [",hidden,now,", "phase 2: has no name"],
      ["A,test,now,", 'phase 2: data "test" is not one of development, hidden, hidden_public'],
      ["A,hidden,12/1,", 'phase 2: start "12/1" is not a time (ISO 8601, now, or +N[smhd])'],
      ["A,hidden,now,+2w", 'phase 2: end "+2w" is not a time (ISO 8601, now, +N[smhd], or open)'],
      ["A,hidden,now,,partial", 'phase 2: feedback "partial" is not one of full, released'],
      ["A,hidden,now,,released,maybe", 'phase 2: "maybe" must be ranked or unranked'],
    ];
    for (const [line, message] of cases) {
      expect(() => parsePhaseLines(["Ok,hidden,now,+1d", line], NOW)).toThrow(
        new PhaseLineError(2, message.slice(9)),
      );
    }
  });
});
