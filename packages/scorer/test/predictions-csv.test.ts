import { describe, expect, it } from "vitest";
import { parsePredictionsCsv, PredictionsError } from "@holdout/scorer";

const STUDIES = [
  "CheXpert-v1.0/test/patient00001/study1",
  "CheXpert-v1.0/test/patient00002/study1",
  "CheXpert-v1.0/test/patient00003/study2",
];
const HEADER = "Study,Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion";
const row = (study: string, values = "0.1,0.2,0.3,0.4,0.5") => `${study},${values}`;
const valid = [HEADER, ...STUDIES.map((s) => row(s))];
const csv = (lines: string[], eol = "\n") => lines.join(eol) + eol;

/** Parses and returns the PredictionsError it must throw. */
function failure(text: string): PredictionsError {
  try {
    parsePredictionsCsv(text, STUDIES);
  } catch (error) {
    if (error instanceof PredictionsError) {
      expect(error.message).not.toContain("\n");
      expect(error.code).toBe("HOLDOUT_ERR_INVALID_PREDICTIONS");
      return error;
    }
    throw error;
  }
  throw new Error("expected a PredictionsError");
}

/** Replaces data row `n` (row numbers as in messages: header = 1, first data row = 2). */
const withRow = (n: number, line: string) => csv(valid.map((l, i) => (i === n - 1 ? line : l)));

describe("parsePredictionsCsv: accepted files", () => {
  it("aligns rows to the test studies whatever the row and column order, ignoring extra columns", () => {
    const text = csv([
      "Edema,Extra,Study,Pleural Effusion,Cardiomegaly,Consolidation,Atelectasis",
      "0.4,x,CheXpert-v1.0/test/patient00003/study2,0.5,0.2,0.3,-1e-3",
      "4,y,CheXpert-v1.0/test/patient00001/study1,5,2,3,1",
      "40,z,CheXpert-v1.0/test/patient00002/study1,50,20,30, 10 ",
    ]);
    const result = parsePredictionsCsv(text, STUDIES);
    expect(Array.from(result.Atelectasis)).toEqual([1, 10, -0.001]);
    expect(Array.from(result["Pleural Effusion"])).toEqual([5, 50, 0.5]);
  });

  it("tolerates a byte-order mark, CRLF line ends, a quoted header and blank lines", () => {
    const quoted = '"Study","Atelectasis","Cardiomegaly","Consolidation","Edema","Pleural Effusion"';
    const text = `\uFEFF${csv([quoted, ...valid.slice(1)], "\r\n")}\r\n`;
    expect(Array.from(parsePredictionsCsv(text, STUDIES).Edema)).toEqual([0.4, 0.4, 0.4]);
  });

  it("ignores a trailing slash on Study", () => {
    const text = withRow(3, row(`${STUDIES[1]}/`, "0.1,0.2,0.3,9,0.5"));
    expect(parsePredictionsCsv(text, STUDIES).Edema[1]).toBe(9);
  });
});

describe("parsePredictionsCsv: rejected files name the first offending row and column", () => {
  it("an empty file", () => {
    for (const text of ["", "\uFEFF", "\n\r\n  \n"]) {
      const error = failure(text);
      expect([error.row, error.column]).toEqual([null, null]);
      expect(error.message).toMatch(/is empty/);
    }
  });

  it("a header without rows", () => {
    expect(failure(csv([HEADER])).message).toMatch(/not followed by any row/);
  });

  it("a missing task column", () => {
    const error = failure(
      csv(["Study,Atelectasis,Cardiomegaly,Consolidation,Pleural Effusion", row(STUDIES[0]!, "1,2,3,4")]),
    );
    expect([error.row, error.column]).toEqual([1, "Edema"]);
    expect(error.message).toContain('row 1, column "Edema": missing from the header');
  });

  it("a file that starts with data, not its header: row 1 quoted", () => {
    const error = failure(csv(valid.slice(1)));
    expect([error.row, error.column]).toEqual([1, "Study"]);
    expect(error.message).toMatch(
      /^predictions\.csv row 1, column "Study": missing from the header \(required: .*\); row 1 looks like data, not a header \(".*\/study1", "[\d.]+", "[\d.]+", …\): write the header row first$/,
    );
  });

  it("a column whose name is not exact, with a hint", () => {
    const error = failure(csv([HEADER.replace("Edema", " edema"), ...valid.slice(1)]));
    expect(error.message).toContain('column "Edema"');
    expect(error.message).toContain('found " edema"');
  });

  it("a missing Study column", () => {
    expect(failure(csv([HEADER.replace("Study", "Path"), ...valid.slice(1)])).column).toBe("Study");
  });

  it("a task column named twice", () => {
    const error = failure(csv([`${HEADER},Edema`, ...valid.slice(1).map((l) => `${l},1`)]));
    expect(error.message).toContain('row 1, column "Edema": the header names this column 2 times');
  });

  it("a missing study", () => {
    const error = failure(csv(valid.slice(0, 3)));
    expect([error.row, error.column]).toEqual([null, "Study"]);
    expect(error.message).toContain(`1 of 3 test studies have no row, the first is "${STUDIES[2]}"`);
  });

  it("an extra study", () => {
    const error = failure(csv([...valid, row("CheXpert-v1.0/test/patient99999/study1")]));
    expect([error.row, error.column]).toEqual([5, "Study"]);
    expect(error.message).toContain(
      'row 5, column "Study": "CheXpert-v1.0/test/patient99999/study1" is not a study',
    );
  });

  it("a duplicate study, also when it differs by a trailing slash", () => {
    const error = failure(csv([...valid, row(`${STUDIES[0]}/`)]));
    expect([error.row, error.column]).toEqual([5, "Study"]);
    expect(error.message).toContain("already has a row (row 2)");
  });

  it("an empty study", () => {
    expect(failure(withRow(2, row(""))).message).toContain('row 2, column "Study": the study is empty');
  });

  it("a non-numeric value", () => {
    const error = failure(withRow(3, row(STUDIES[1]!, "0.1,0.2,0.3,abc,0.5")));
    expect([error.row, error.column]).toEqual([3, "Edema"]);
    expect(error.message).toBe('predictions.csv row 3, column "Edema": "abc" is not a number');
  });

  it.each([
    ["NaN", "not a finite number"],
    ["nan", "not a finite number"],
    ["Infinity", "not a finite number"],
    ["-inf", "not a finite number"],
    ["1e999", "not a finite float64 number"],
    ["0x1F", "not a number"],
    ["1,5", "fields"], // an unquoted decimal comma adds a field
  ])("the value %s", (value, problem) => {
    const error = failure(withRow(4, row(STUDIES[2]!, `0.1,0.2,${value},0.4,0.5`)));
    expect(error.row).toBe(4);
    expect(error.message).toContain(problem);
    if (problem !== "fields") expect(error.message).toContain('row 4, column "Consolidation"');
  });

  it("an empty value", () => {
    const error = failure(withRow(2, row(STUDIES[0]!, "0.1,,0.3,0.4,0.5")));
    expect(error.message).toBe('predictions.csv row 2, column "Cardiomegaly": the value is empty');
  });

  it("reports the leftmost bad value of a row first", () => {
    const text = csv([
      "Study,Edema,Atelectasis,Cardiomegaly,Consolidation,Pleural Effusion",
      `${STUDIES[0]},x,y,1,1,1`,
    ]);
    expect(failure(text).column).toBe("Edema");
  });

  it("per-image rows, suggesting to aggregate the views of each study", () => {
    const error = failure(withRow(2, row(`${STUDIES[0]}/view1_frontal.jpg`)));
    expect([error.row, error.column]).toEqual([2, "Study"]);
    expect(error.message).toMatch(/row 2, column "Study": .*view1_frontal.jpg" is an image path/);
    expect(error.message).toMatch(
      /one row per study.*aggregate the views of each study, e\.g\. by their max/,
    );
  });

  it("a wrong prefix, showing how the test study is written", () => {
    const error = failure(withRow(3, row("CheXpert-v1.0-small/valid/patient00002/study1")));
    expect([error.row, error.column]).toEqual([3, "Study"]);
    expect(error.message).toContain(`has the wrong prefix: the test study is written "${STUDIES[1]}"`);
  });

  it("a wrong prefix on a study that is not in the test set either", () => {
    const error = failure(withRow(2, row("/data/chexpert/patient77777/study1")));
    expect(error.message).toContain('has the wrong prefix: test studies start with "CheXpert-v1.0/test/"');
  });

  it("a row with a missing field", () => {
    const error = failure(withRow(3, `${STUDIES[1]},0.1,0.2`));
    expect([error.row, error.column]).toEqual([3, null]);
    expect(error.message).toContain("row 3: has 3 fields but the header has 6");
  });

  it("malformed quoting", () => {
    const error = failure(withRow(3, `"${STUDIES[1]},0.1,0.2,0.3,0.4,0.5`));
    expect(error.row).toBe(3);
    expect(error.message).toMatch(/row 3: malformed CSV/);
  });

  it("uses the file name it is given in messages", () => {
    expect(() => parsePredictionsCsv("", STUDIES, "out/model-a.csv")).toThrow(
      "out/model-a.csv: the file is empty",
    );
  });
});
