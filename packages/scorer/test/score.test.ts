import { describe, expect, it } from "vitest";
import { scoreTasks, TASKS, type PerTask } from "@holdout/scorer";

const perTask = <T>(value: (task: (typeof TASKS)[number]) => T) =>
  Object.fromEntries(TASKS.map((task) => [task, value(task)])) as PerTask<T>;

describe("scoreTasks", () => {
  // Four studies, truth 0 0 1 1 for every task. Predictions: the sklearn example scores (AUC 0.75,
  // fpr [0,0,.5,.5,1], tpr [0,.5,.5,1,1]) except Edema, ranked perfectly: tps [1,2,2,2], fps [0,0,1,2],
  // drop_intermediate keeps thresholds 0, 1, 3 -> fpr [0,0,0,1], tpr [0,.5,1,1], AUC 1.
  const truth = perTask(() => [0, 0, 1, 1]);
  const predictions = perTask((task) => (task === "Edema" ? [0.1, 0.2, 0.3, 0.4] : [0.1, 0.4, 0.35, 0.8]));
  // r1 reads 0 1 1 1: spec 1/2, sens 1 -> x = .5; example curve: tpr[1] = .5 < 1 (not below);
  //   Edema: first fpr >= .5 is index 3, tpr[2] = 1 >= 1 (below).
  // r2 reads 0 0 1 0: spec 1, sens 1/2 -> x = 0 -> i = 0 -> tpr[-1] = 1: below for every task.
  const readers = [
    { id: "r1", reads: perTask(() => [0, 1, 1, 1]) },
    { id: "r2", reads: perTask(() => [0, 0, 1, 0]) },
  ];
  const result = scoreTasks({ truth, predictions, readers });

  it("scores every task in TASKS order", () => {
    expect(result.tasks.map((t) => [t.task, t.auc, t.radsBelowCurve])).toEqual([
      ["Atelectasis", 0.75, 1],
      ["Cardiomegaly", 0.75, 1],
      ["Consolidation", 0.75, 1],
      ["Edema", 1, 2],
      ["Pleural Effusion", 0.75, 1],
    ]);
    expect(result.tasks[0]?.roc).toEqual([
      [0, 0],
      [0, 0.5],
      [0.5, 0.5],
      [0.5, 1],
      [1, 1],
    ]);
  });

  it("averages the tasks and adds a thousandth of the mean radiologist count", () => {
    // (0.75 * 4 + 1) / 5 = 0.8; (1 + 1 + 1 + 2 + 1) / 5 = 1.2.
    expect(result.meanAuc).toBe(0.8);
    expect(result.meanRadsBelowCurve).toBe(1.2);
    expect(result.score).toBe(0.8 + 0.001 * 1.2);
  });

  it("lists each reader's point task by task", () => {
    expect(result.readers).toHaveLength(10);
    expect(result.readers.slice(0, 2)).toEqual([
      { id: "r1", task: "Atelectasis", specificity: 0.5, sensitivity: 1 },
      { id: "r2", task: "Atelectasis", specificity: 1, sensitivity: 0.5 },
    ]);
  });

  it("names the task and the array when inputs do not line up or cannot be scored", () => {
    const short = { ...predictions, Edema: [0.1, 0.2, 0.3] };
    expect(() => scoreTasks({ truth, predictions: short, readers })).toThrow(
      "Edema: predictions: 3 values for 4 ground-truth studies",
    );
    const noPositive = { ...truth, Consolidation: [0, 0, 0, 0] };
    expect(() => scoreTasks({ truth: noPositive, predictions, readers })).toThrow(
      /^Consolidation: .*0 positive/,
    );
  });
});
