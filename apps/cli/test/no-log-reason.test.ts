import { describe, expect, it } from "vitest";
import { noLogReason } from "../src/commands/status.ts";

// `holdout status ID --log PHASE` with an empty log: a run that never happened exits 1 and says
// why; a run that printed nothing exits 0.

const ID = "0b6c0c0e-9a4e-4a57-9d36-4f1f1d2b8a11";

describe("why a run's log is empty", () => {
  it.each([
    [
      { state: "failed", failedPhase: "smoke" },
      "hidden",
      1,
      /failed in its smoke run, before any hidden run/,
    ],
    [{ state: "queued", failedPhase: null }, "smoke", 1, /no smoke-run log yet: submission .* is queued/],
    [{ state: "running", failedPhase: null }, "hidden", 1, /no hidden-run log yet: .* is running/],
    [{ state: "failed", failedPhase: null }, "smoke", 1, /ended \(failed\) before its smoke run/],
    [{ state: "cancelled", failedPhase: null }, "hidden", 1, /ended \(cancelled\) before its hidden run/],
    [{ state: "scored", failedPhase: null }, "hidden", 0, /the hidden run printed nothing/],
    [{ state: "failed", failedPhase: "smoke" }, "smoke", 0, /the smoke run printed nothing/],
  ] as const)("%o, --log %s: exit %i", (s, phase, exitCode, message) => {
    const why = noLogReason({ id: ID, ...s }, phase);
    expect(why.exitCode).toBe(exitCode);
    expect(why.message).toMatch(message);
  });
});
