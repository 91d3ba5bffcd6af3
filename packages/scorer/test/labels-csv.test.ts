import { describe, expect, it } from "vitest";
import { alignLabels, LabelsError, parseLabelsCsv } from "@holdout/scorer";

// Observation columns in another order than the tasks, plus columns the scorer ignores (even "-1").
const TEXT = [
  "Study,No Finding,Pleural Effusion,Edema,Lung Lesion,Consolidation,Cardiomegaly,Atelectasis",
  "CheXpert-v1.0/test/patient00001/study1,1,0,1,-1,0,1,1.0",
  "CheXpert-v1.0/test/patient00002/study1/,0,1,0,,1,0,0",
].join("\r\n");

describe("parseLabelsCsv", () => {
  it("reads the task columns by name and drops a trailing slash on Study", () => {
    const table = parseLabelsCsv(TEXT, "groundtruth.csv");
    expect(table.studies).toEqual([
      "CheXpert-v1.0/test/patient00001/study1",
      "CheXpert-v1.0/test/patient00002/study1",
    ]);
    expect(Array.from(table.labels.Atelectasis)).toEqual([1, 0]);
    expect(Array.from(table.labels["Pleural Effusion"])).toEqual([0, 1]);
  });

  it("rejects a task value that is not 0 or 1, naming row and column", () => {
    const error = (() => {
      try {
        parseLabelsCsv(TEXT.replace(",1,0,1,-1,", ",1,0,-1,-1,"), "groundtruth.csv");
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(LabelsError);
    expect((error as LabelsError).message).toBe('groundtruth.csv row 2, column "Edema": "-1" is not 0 or 1');
  });

  it("rejects a duplicate study and a missing task column", () => {
    const duplicate = `${TEXT}\r\nCheXpert-v1.0/test/patient00001/study1,1,0,1,0,0,1,1`;
    expect(() => parseLabelsCsv(duplicate, "r.csv")).toThrow('r.csv row 4, column "Study"');
    expect(() => parseLabelsCsv(TEXT.replace("Cardiomegaly", "Heart"), "r.csv")).toThrow(
      'r.csv row 1, column "Cardiomegaly": missing',
    );
  });
});

describe("alignLabels", () => {
  const table = parseLabelsCsv(TEXT, "bc4.csv");
  const [first, second] = table.studies as [string, string];

  it("reorders a reader file to the ground truth's study order", () => {
    expect(Array.from(alignLabels(table, [second, first], "bc4.csv").Atelectasis)).toEqual([0, 1]);
  });

  it("rejects a reader file with a missing or an extra study", () => {
    expect(() =>
      alignLabels(table, [first, second, "CheXpert-v1.0/test/patient00003/study1"], "bc4.csv"),
    ).toThrow('bc4.csv column "Study": no row for study "CheXpert-v1.0/test/patient00003/study1"');
    expect(() => alignLabels(table, [first], "bc4.csv")).toThrow(`"${second}" is not in the ground truth`);
  });
});
