import { describe, expect, it } from "vitest";
import { estimateSince, estimateStart, fairOrder, median } from "../src/services/queue-position.ts";

// The queue estimate's arithmetic (tests/api/api-events.test.ts follows it through the event stream).

describe("queue estimates", () => {
  const now = new Date("2026-12-03T12:00:00Z");
  const minute = 60_000;

  it("the typical run time is the median of recent runs", () => {
    expect(median([])).toBeNull();
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it("counts waves of the live workers' slots ahead of a submission", () => {
    const facts = { slots: 2, running: 1, typicalRunMs: 10 * minute };
    // One slot is free: the next starts now; then each wave of 2 runs takes a typical run.
    expect(estimateStart(1, facts, now)).toEqual(now);
    expect(estimateStart(2, facts, now)!.getTime() - now.getTime()).toBe(10 * minute);
    expect(estimateStart(3, facts, now)!.getTime() - now.getTime()).toBe(10 * minute);
    expect(estimateStart(4, facts, now)!.getTime() - now.getTime()).toBe(20 * minute);
  });

  it("promises nothing without a live worker or without a finished run to learn from", () => {
    expect(estimateStart(1, { slots: 0, running: 0, typicalRunMs: minute }, now)).toBeNull();
    expect(estimateStart(1, { slots: 4, running: 0, typicalRunMs: null }, now)).toBeNull();
  });
});

describe("what a queue estimate counts from", () => {
  const at = (s: string) => new Date(`2026-12-03T${s}Z`);
  const facts = { slots: 1, running: 0, typicalRunMs: 60_000 };

  it("is the later of its queueing and the queue's last move, never the clock", () => {
    const now = at("12:30:00");
    expect(estimateSince(at("12:00:00"), { ...facts, movedAt: at("12:10:00") }, now)).toEqual(at("12:10:00"));
    expect(estimateSince(at("12:20:00"), { ...facts, movedAt: at("12:10:00") }, now)).toEqual(at("12:20:00"));
    // The same facts later give the same answer: an estimate does not slide while nothing moves.
    expect(estimateSince(at("12:20:00"), { ...facts, movedAt: null }, at("13:00:00"))).toEqual(
      at("12:20:00"),
    );
    expect(estimateSince(null, { ...facts, movedAt: null }, now)).toEqual(now);
  });

  it("places a team's single submission after one of another team's backlog, as the fair share runs them", () => {
    const line = [
      ...["a1", "a2", "a3"].map((id) => ({ id, teamId: "A" })),
      { id: "b1", teamId: "B" },
      { id: "c1", teamId: "C" },
      { id: "a4", teamId: "A" },
    ];
    const ids = (running: string[]) => fairOrder(line, running).map((s) => s.id);
    expect(ids([])).toEqual(["a1", "b1", "c1", "a2", "a3", "a4"]);
    // A team with a run in progress has had its turn of the round: the others go first.
    expect(ids(["A"])).toEqual(["b1", "c1", "a1", "a2", "a3", "a4"]);
    expect(ids(["B", "B"])).toEqual(["a1", "c1", "a2", "a3", "b1", "a4"]);
  });
});
