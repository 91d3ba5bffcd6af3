import { describe, expect, it } from "vitest";
import { curves, majorityVote, precisionRecallCurve, scoreTasks, TASKS, type PerTask } from "@holdout/scorer";

const perTask = <T>(value: (task: (typeof TASKS)[number]) => T) =>
  Object.fromEntries(TASKS.map((task) => [task, value(task)])) as PerTask<T>;

describe("precisionRecallCurve (sklearn precision_recall_curve)", () => {
  it("gives the points of the sklearn documentation example", () => {
    const { precision, recall } = precisionRecallCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]);
    expect(Array.from(precision)).toEqual([0.5, 2 / 3, 0.5, 1, 1]);
    expect(Array.from(recall)).toEqual([1, 1, 0.5, 0.5, 0]);
  });

  it("puts one point per group of tied scores, lowest threshold first, and ends at (0, 1)", () => {
    // Thresholds 0.9 (1 pos, 1 neg), 0.5 (+1 pos), 0.1 (+1 neg): precision 1/2, 2/3, 2/4 reversed.
    const { precision, recall } = precisionRecallCurve([1, 0, 1, 0], [0.9, 0.9, 0.5, 0.1]);
    expect(Array.from(precision)).toEqual([0.5, 2 / 3, 0.5, 1]);
    expect(Array.from(recall)).toEqual([1, 1, 0.5, 0]);
  });

  it("throws when a class is missing, where sklearn would only warn", () => {
    expect(() => precisionRecallCurve([0, 0], [0.1, 0.2])).toThrow(/0 positive/);
  });
});

describe("majorityVote", () => {
  it("is 1 where strictly more than half of the readers read 1; a split vote is 0", () => {
    expect(
      Array.from(
        majorityVote([
          [1, 1, 0, 0],
          [1, 0, 1, 0],
          [0, 1, 1, 0],
        ]),
      ),
    ).toEqual([1, 1, 1, 0]);
    expect(
      Array.from(
        majorityVote([
          [1, 1],
          [0, 1],
        ]),
      ),
    ).toEqual([0, 1]);
    expect(() => majorityVote([])).toThrow(/no readers/);
  });
});

describe("curves", () => {
  // Four studies, truth 0 0 1 1 for every task, the sklearn example scores.
  const truth = perTask(() => [0, 0, 1, 1]);
  const predictions = perTask(() => [0.1, 0.4, 0.35, 0.8]);
  // r1 reads 0 1 1 1: tp 2, fp 1, tn 1 -> fpr 1/2, sensitivity 1, precision 2/3.
  // r2 reads 0 0 1 0: tp 1, fp 0 -> fpr 0, sensitivity 1/2, precision 1.
  // r3 reads 0 0 0 0: never positive -> precision undefined.
  // Majority (2 of 3): 0 0 1 0 -> the same point as r2.
  const readers = [
    { id: "r1", reads: perTask(() => [0, 1, 1, 1]) },
    { id: "r2", reads: perTask(() => [0, 0, 1, 0]) },
    { id: "r3", reads: perTask(() => [0, 0, 0, 0]) },
  ];
  const result = curves({ truth, predictions, readers });

  it("gives each task's ROC (as scoreTasks), PR points and reader points", () => {
    expect(result.map((c) => c.task)).toEqual([...TASKS]);
    const first = result[0]!;
    expect(first.roc).toEqual(scoreTasks({ truth, predictions, readers }).tasks[0]!.roc);
    expect(first.pr).toEqual([
      [1, 0.5],
      [1, 2 / 3],
      [0.5, 0.5],
      [0.5, 1],
      [0, 1],
    ]);
    expect(first.readerPoints).toEqual([
      { id: "r1", fpr: 0.5, sensitivity: 1, precision: 2 / 3 },
      { id: "r2", fpr: 0, sensitivity: 0.5, precision: 1 },
      { id: "r3", fpr: 0, sensitivity: 0, precision: null },
    ]);
    expect(first.majority).toEqual({ fpr: 0, sensitivity: 0.5, precision: 1 });
  });

  it("has no majority point without readers, and names the task and reader on bad reads", () => {
    expect(curves({ truth, predictions, readers: [] })[0]!.majority).toBeNull();
    const bad = [{ id: "r9", reads: { ...readers[0]!.reads, Edema: [0, 1] } }];
    expect(() => curves({ truth, predictions, readers: bad })).toThrow(/^Edema: reader r9: .*length/);
  });
});
