import { describe, expect, it } from "vitest";
import { coalesced } from "../src/services/coalesce.ts";

/** A run whose end the test decides, numbered in the order the runs began. */
function controlledRuns() {
  const runs: { n: number; finish: (value: number) => void; fail: (err: Error) => void }[] = [];
  const run = () =>
    new Promise<number>((resolve, reject) => {
      const n = runs.length + 1;
      runs.push({ n, finish: resolve, fail: reject });
    });
  return { runs, run };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("coalesced", () => {
  it("runs at once for a lone caller", async () => {
    const { runs, run } = controlledRuns();
    const call = coalesced(run);
    const answer = call();
    expect(runs).toHaveLength(1);
    runs[0]!.finish(1);
    await expect(answer).resolves.toBe(1);
  });

  it("never answers a caller with a run that began before it called", async () => {
    const { runs, run } = controlledRuns();
    const call = coalesced(run);
    const first = call();
    // These arrive while run 1 is in flight: they must get run 2, which begins after run 1 ends.
    const second = call();
    const third = call();
    expect(runs).toHaveLength(1);
    runs[0]!.finish(1);
    await expect(first).resolves.toBe(1);
    await tick();
    expect(runs).toHaveLength(2);
    runs[1]!.finish(2);
    await expect(second).resolves.toBe(2);
    await expect(third).resolves.toBe(2);
  });

  it("starts the next run after a failed one, and passes each run's failure only to its callers", async () => {
    const { runs, run } = controlledRuns();
    const call = coalesced(run);
    const first = call();
    const second = call();
    runs[0]!.fail(new Error("database down"));
    await expect(first).rejects.toThrow("database down");
    await tick();
    runs[1]!.finish(2);
    await expect(second).resolves.toBe(2);
    // Idle again: a new caller gets a fresh run.
    const third = call();
    expect(runs).toHaveLength(3);
    runs[2]!.finish(3);
    await expect(third).resolves.toBe(3);
  });
});
