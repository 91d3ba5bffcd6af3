import { describe, expect, it } from "vitest";
import { LOG_TAIL_MARK, LOG_WITHHELD_TEXT, logKept, logKeptNote } from "../src/index.ts";

describe("logKept: what a stored log holds of the model's output", () => {
  it("reads the marks only in a log that was cut", () => {
    expect(logKept("all of it\n", false)).toBe("whole");
    // A model that prints the tail's mark into a short log does not make it look cut.
    expect(logKept(`${LOG_TAIL_MARK}10 bytes of the hidden run's log are shown]\n`, false)).toBe("whole");
    expect(logKept(`${LOG_TAIL_MARK}10 bytes of the hidden run's log are shown]\nend\n`, true)).toBe("end");
    expect(logKept("head\n[holdout: log truncated: 5 bytes dropped here; …]\ntail\n", true)).toBe(
      "beginning_and_end",
    );
    expect(logKept(LOG_WITHHELD_TEXT, false)).toBe("withheld");
  });

  it("has a note only for a log with something left out", () => {
    expect(logKeptNote("whole")).toBeNull();
    expect(logKeptNote("withheld")).toBeNull();
    expect(logKeptNote("end")).toMatch(/^Only the end/);
    expect(logKeptNote("beginning_and_end")).toMatch(/its beginning and its end are kept/);
  });
});
