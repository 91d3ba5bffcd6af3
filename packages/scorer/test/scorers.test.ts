import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  auc,
  bootstrapAuc,
  chexpertScorer,
  curves,
  LabelsError,
  meanAucScorer,
  PredictionsError,
  scorerFor,
  ScorerInputError,
  scoreTasks,
  TASKS,
  type PerTask,
} from "@holdout/scorer";

const NAMES = ["Nodule", "Fibrosis", "Mass"] as const;
const STUDIES = ["slides/case1", "slides/case2", "slides/case3", "slides/case4", "slides/case5"];

// Hand-counted Mann–Whitney AUCs (positive-negative pairs ranked right; a tie counts one half):
// Nodule: positives 0.35, 0.8 against 0.1, 0.4, 0.2 -> 2 + 3 of 6 pairs = 5/6.
// Fibrosis: positives 0.9, 0.5 against 0.5, 0.1, 0.3 -> 3 + (0.5 + 2) of 6 = 11/12.
// Mass: positives 0.1, 0.9, 0.8 against 0.2, 0.3 -> 0 + 2 + 2 of 6 = 2/3.
const truth: PerTask<number[], (typeof NAMES)[number]> = {
  Nodule: [0, 0, 1, 1, 0],
  Fibrosis: [1, 0, 1, 0, 0],
  Mass: [0, 1, 0, 1, 1],
};
const predictions: PerTask<number[], (typeof NAMES)[number]> = {
  Nodule: [0.1, 0.4, 0.35, 0.8, 0.2],
  Fibrosis: [0.9, 0.5, 0.5, 0.1, 0.3],
  Mass: [0.2, 0.1, 0.3, 0.9, 0.8],
};

describe("the mean-auc scorer", () => {
  const scorer = meanAucScorer(NAMES);
  const result = scorer.score({ truth, predictions, readers: [] });

  it("scores each named column in the manifest's order, with hand-computed AUCs", () => {
    expect(scorer).toMatchObject({ name: "mean-auc", tasks: NAMES, readers: false });
    expect(result.tasks.map((t) => t.task)).toEqual(NAMES);
    const aucs = result.tasks.map((t) => t.auc);
    expect(aucs[0]).toBeCloseTo(5 / 6, 15);
    expect(aucs[1]).toBeCloseTo(11 / 12, 15);
    expect(aucs[2]).toBeCloseTo(2 / 3, 15);
    expect(result.meanAuc).toBeCloseTo(29 / 36, 15);
  });

  it("ranks on the mean AUC alone: no readers, no radiologists below any curve", () => {
    expect(result.readers).toEqual([]);
    expect(result.tasks.map((t) => t.radsBelowCurve)).toEqual([0, 0, 0]);
    expect(result.meanRadsBelowCurve).toBe(0);
    expect(result.score).toBe(result.meanAuc);
  });

  it("refuses readers: a mean-auc set has none", () => {
    const readers = [{ id: "r1", reads: truth }];
    expect(() => scorer.score({ truth, predictions, readers })).toThrow(
      "scorer mean-auc compares no readers, got 1",
    );
  });

  it("names the column when one cannot be scored", () => {
    expect(() =>
      scorer.score({ truth: { ...truth, Mass: [0, 0, 0, 0, 0] }, predictions, readers: [] }),
    ).toThrow(ScorerInputError);
    expect(() =>
      scorer.score({ truth: { ...truth, Mass: [0, 0, 0, 0, 0] }, predictions, readers: [] }),
    ).toThrow(/^Mass: /);
  });

  it("gives bootstrap intervals around each column's AUC and the mean, the same for the same seed", () => {
    const opts = { replicates: 300, seed: 7 };
    const intervals = scorer.bootstrapAuc({ truth, predictions }, opts);
    expect(intervals.tasks.map((t) => t.task)).toEqual(NAMES);
    for (const t of intervals.tasks) {
      expect(t.auc95[0]).toBeLessThanOrEqual(t.auc);
      expect(t.auc95[1]).toBeGreaterThanOrEqual(t.auc);
    }
    expect(intervals.meanAuc).toBe(result.meanAuc);
    expect(scorer.bootstrapAuc({ truth, predictions }, opts)).toEqual(intervals);
    expect(scorer.bootstrapDistribution({ truth, predictions }, opts).taskOrder).toEqual(NAMES);
  });

  it("draws ROC and precision-recall curves per column, with no reader points", () => {
    const plots = scorer.curves({ truth, predictions, readers: [] });
    expect(plots.map((p) => [p.task, p.readerPoints, p.majority])).toEqual(NAMES.map((n) => [n, [], null]));
    expect(plots.map((p) => p.roc)).toEqual(result.tasks.map((t) => t.roc));
  });
});

describe("the mean-auc scorer's CSV files", () => {
  const scorer = meanAucScorer(NAMES);
  const rows = STUDIES.map(
    (s, i) => `${s},${predictions.Mass[i]},x,${predictions.Nodule[i]},${predictions.Fibrosis[i]}`,
  );
  const text = ["Study,Mass,Note,Nodule,Fibrosis", ...rows].join("\n");

  /** The PredictionsError parsing `csv` must throw. */
  function failure(csv: string): PredictionsError {
    try {
      scorer.parsePredictions(csv, STUDIES);
    } catch (error) {
      if (error instanceof PredictionsError) return error;
      throw error;
    }
    throw new Error("expected a PredictionsError");
  }

  it("reads the manifest's columns in any order, ignoring others, and scores them", () => {
    const parsed = scorer.parsePredictions(text, STUDIES);
    expect(Object.keys(parsed).sort()).toEqual([...NAMES].sort());
    expect(Array.from(parsed.Fibrosis!)).toEqual(predictions.Fibrosis);
    const scored = scorer.score({ truth, predictions: parsed, readers: [] });
    expect(scored.meanAuc).toBe(scorer.score({ truth, predictions, readers: [] }).meanAuc);
  });

  it("names a missing column, listing the ones required", () => {
    const error = failure(text.replace("Nodule", "nodule"));
    expect(error.message).toBe(
      'predictions.csv row 1, column "Nodule": missing from the header (required: Study, Nodule, ' +
        'Fibrosis, Mass, in any order); found "nodule", names must match exactly',
    );
    expect([error.row, error.column]).toEqual([1, "Nodule"]);
    // A CheXpert file is not a mean-auc file.
    const chexpert = `Study,${TASKS.join(",")}\n${STUDIES.map((s) => `${s},1,2,3,4,5`).join("\n")}\n`;
    expect(failure(chexpert).column).toBe("Nodule");
  });

  it("names the row and column of a bad number, and a study without a row", () => {
    const bad = failure(text.replace(`${STUDIES[2]},0.3,x,0.35`, `${STUDIES[2]},0.3,x,high`));
    expect(bad.message).toBe('predictions.csv row 4, column "Nodule": "high" is not a number');
    const missing = failure(text.split("\n").slice(0, -1).join("\n"));
    expect(missing.message).toBe(
      'predictions.csv column "Study": 1 of 5 test studies have no row, the first is "slides/case5"',
    );
  });

  it("reads ground truth with the manifest's columns and names a label that is not 0/1", () => {
    const labels = [
      "Study,Nodule,Fibrosis,Mass",
      ...STUDIES.map((s, i) => `${s},${truth.Nodule[i]},${truth.Fibrosis[i]},${truth.Mass[i]}`),
    ];
    const table = scorer.parseLabels(labels.join("\n"), "private/groundtruth.csv");
    expect(table.tasks).toEqual(NAMES);
    expect(Array.from(table.labels.Mass!)).toEqual(truth.Mass);
    labels[2] = `${STUDIES[1]},0,2,1`;
    expect(() => scorer.parseLabels(labels.join("\n"), "private/groundtruth.csv")).toThrow(
      new LabelsError('private/groundtruth.csv row 3, column "Fibrosis": "2" is not 0 or 1', 3, "Fibrosis"),
    );
  });
});

describe("scorerFor", () => {
  it("gives the official CheXpert scorer for chexpert, whatever the order of the manifest's tasks", () => {
    expect(scorerFor({ scorer: "chexpert", tasks: [...TASKS].reverse() })).toBe(chexpertScorer);
    expect(chexpertScorer).toMatchObject({ name: "chexpert", tasks: TASKS, readers: true });
  });

  it("refuses chexpert over other columns, and says which", () => {
    expect(() =>
      scorerFor({
        scorer: "chexpert",
        tasks: ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Mass"],
      }),
    ).toThrow(
      'chexpert: `tasks` must be the five CheXpert tasks (Atelectasis, Cardiomegaly, Consolidation, Edema, Pleural Effusion) for scorer chexpert; missing "Pleural Effusion"; not CheXpert tasks: "Mass" (scorer mean-auc scores other columns)',
    );
  });

  it("binds mean-auc to the manifest's columns, refusing names a CSV header cannot hold exactly", () => {
    expect(scorerFor({ scorer: "mean-auc", tasks: NAMES }).tasks).toEqual(NAMES);
    expect(() => scorerFor({ scorer: "mean-auc", tasks: [] })).toThrow("mean-auc: `tasks` names no column");
    expect(() =>
      scorerFor({ scorer: "mean-auc", tasks: ["Mass", " Nodule", "Study", "Mass", "a\nb", ""] }),
    ).toThrow(
      'mean-auc: tasks[1] " Nodule" has spaces around it (headers must match exactly); ' +
        'tasks[2] "Study" is the name of the study column; tasks[3] "Mass" repeats tasks[0]; ' +
        'tasks[4] "a\\nb" holds a control character; tasks[5] is empty',
    );
  });
});

describe("one metric for both scorers", () => {
  /** `n` studies: 0/1 labels with both classes and integer scores (ties are frequent). */
  const column = (n: number) =>
    fc
      .array(fc.record({ label: fc.constantFrom(0, 1), score: fc.integer({ min: 0, max: 6 }) }), {
        minLength: n,
        maxLength: n,
      })
      .filter((rows) => rows.some((r) => r.label === 1) && rows.some((r) => r.label === 0))
      .map((rows) => ({ labels: rows.map((r) => r.label), scores: rows.map((r) => r.score) }));

  it("mean-auc's mean is the mean of each column's official AUC, whatever the columns are called", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[A-Za-z][A-Za-z ]{0,10}[a-z]$/), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 4, max: 25 }).chain((n) => fc.array(column(n), { minLength: 4, maxLength: 4 })),
        (names, columns) => {
          fc.pre(!names.includes("Study"));
          const pick = <T>(f: (c: (typeof columns)[number]) => T) =>
            Object.fromEntries(names.map((name, i) => [name, f(columns[i]!)]));
          const result = meanAucScorer(names).score({
            truth: pick((c) => c.labels),
            predictions: pick((c) => c.scores),
            readers: [],
          });
          let sum = 0;
          names.forEach((_, i) => (sum += auc(columns[i]!.labels, columns[i]!.scores)));
          expect(result.meanAuc).toBe(sum / names.length);
          expect(result.score).toBe(result.meanAuc);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("the CheXpert scorer gives exactly what scoreTasks, bootstrapAuc and curves give", () => {
    const columns = TASKS.map((_, t) => ({
      labels: [0, 1, 0, 1, 1, 0, 0, 1, 0, 0].map((v, i) => (i === t ? 1 - v : v)),
      scores: [3, 5, 1, 5, 4, 2, 5, 3, 1, 0].map((v, i) => ((v * (t + 1)) % 7) + i / 10),
    }));
    const byTask = <T>(f: (c: (typeof columns)[number]) => T) =>
      Object.fromEntries(TASKS.map((task, t) => [task, f(columns[t]!)])) as PerTask<T>;
    const input = { truth: byTask((c) => c.labels), predictions: byTask((c) => c.scores) };
    const readers = [{ id: "r1", reads: byTask((c) => c.labels.map((l, i) => (i % 3 === 0 ? 1 - l : l))) }];
    const opts = { replicates: 200, seed: 3 };
    // JSON prints each double by its shortest round trip: equal text is equal bits.
    expect(JSON.stringify(chexpertScorer.score({ ...input, readers }))).toBe(
      JSON.stringify(scoreTasks({ ...input, readers })),
    );
    expect(JSON.stringify(chexpertScorer.bootstrapAuc(input, opts))).toBe(
      JSON.stringify(bootstrapAuc(input, opts)),
    );
    expect(JSON.stringify(chexpertScorer.curves({ ...input, readers }))).toBe(
      JSON.stringify(curves({ ...input, readers })),
    );
  });
});
