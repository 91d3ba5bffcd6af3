/** Strict reading of a participant's predictions.csv (docs/architecture.md, "Predictions and the metric"). */
import {
  at,
  findColumns,
  normalizeStudy,
  parseFiniteNumber,
  quote,
  readCsvTable,
  type CsvErrorFactory,
} from "./csv-table.ts";
import { PredictionsError } from "./errors.ts";
import { chexpertTasks, perTask, type PerTask } from "./tasks.ts";

/** An image path such as `.../study1/view1_frontal.jpg`: the model wrote one row per image. */
const IMAGE_PATH = /\/[^/]+\.(?:jpe?g|png|dcm)$/i;

/** `patient64741/study1`: the part of a study id that does not depend on where the data set lives. */
function studyTail(study: string): string {
  return study.split("/").slice(-2).join("/");
}

/** Explains why `raw` (a Study not among the test studies) is wrong, most specific reason first. */
function explainUnknownStudy(raw: string, studies: readonly string[], byTail: Map<string, string>): string {
  const study = normalizeStudy(raw);
  if (IMAGE_PATH.test(study)) {
    return (
      `${quote(raw)} is an image path, but predictions need one row per study (the path without its ` +
      `/view…jpg part, e.g. ${quote(studies[0] ?? "")}): aggregate the views of each study, e.g. by their max`
    );
  }
  const expected = byTail.get(studyTail(study));
  if (expected !== undefined) {
    return `${quote(raw)} has the wrong prefix: the test study is written ${quote(expected)}`;
  }
  const prefix = sharedPrefix(studies);
  if (prefix !== null && !study.startsWith(prefix)) {
    return `${quote(raw)} has the wrong prefix: test studies start with ${quote(prefix)}`;
  }
  return `${quote(raw)} is not a study of this test set`;
}

/** The directory all studies live in (e.g. `CheXpert-v1.0/test/`), or null if they do not share one. */
function sharedPrefix(studies: readonly string[]): string | null {
  const dirOf = (study: string) => study.split("/").slice(0, -2).join("/");
  const first = studies[0];
  if (first === undefined || dirOf(first) === "") return null;
  const dir = dirOf(first);
  return studies.every((study) => dirOf(study) === dir) ? `${dir}/` : null;
}

/**
 * Parses predictions.csv text and returns one Float64Array per task, aligned to `studies` (the test
 * set's study order). The header needs `Study` and the exactly-named task columns (the five CheXpert
 * tasks, or those of `taskList`), in any order; other columns are ignored. Every test study needs
 * exactly one row; a trailing `/` on Study is ignored; values must be finite numbers. Throws
 * PredictionsError naming the first offending row and column.
 */
export function parsePredictionsCsv(
  text: string,
  studies: readonly string[],
  source?: string,
): PerTask<Float64Array>;
export function parsePredictionsCsv<K extends string>(
  text: string,
  studies: readonly string[],
  source: string,
  taskList: readonly K[],
): PerTask<Float64Array, K>;
export function parsePredictionsCsv<K extends string>(
  text: string,
  studies: readonly string[],
  source = "predictions.csv",
  taskList: readonly K[] = chexpertTasks(),
): PerTask<Float64Array, K> {
  const fail: CsvErrorFactory = (message, row, column) => new PredictionsError(message, row, column);
  const table = readCsvTable(text, source, fail);
  const columns = findColumns(table, ["Study", ...taskList], source, fail);
  if (table.rows.length === 0)
    throw fail(at(source, null, null, "the header is not followed by any row"), null, null);

  const indexOf = new Map(studies.map((study, i) => [normalizeStudy(study), i]));
  const byTail = new Map(studies.map((study) => [studyTail(normalizeStudy(study)), study]));
  const firstRowOf = new Int32Array(studies.length); // 0 = no row yet
  const result = perTask(taskList, () => new Float64Array(studies.length));
  // Values are checked left to right so that "the first problem" is the first one a reader meets.
  const taskColumns = taskList
    .map((task) => ({ task, index: columns[task] }))
    .sort((a, b) => a.index - b.index);

  for (const { row, fields } of table.rows) {
    const raw = fields[columns.Study] ?? "";
    if (raw.trim() === "") throw fail(at(source, row, "Study", "the study is empty"), row, "Study");
    const studyIndex = indexOf.get(normalizeStudy(raw));
    if (studyIndex === undefined) {
      throw fail(at(source, row, "Study", explainUnknownStudy(raw, studies, byTail)), row, "Study");
    }
    const earlier = firstRowOf[studyIndex]!;
    if (earlier !== 0) {
      throw fail(at(source, row, "Study", `${quote(raw)} already has a row (row ${earlier})`), row, "Study");
    }
    firstRowOf[studyIndex] = row;
    for (const { task, index } of taskColumns) {
      const value = parseFiniteNumber(fields[index] ?? "");
      if (typeof value !== "number") throw fail(at(source, row, task, value.problem), row, task);
      result[task][studyIndex] = value;
    }
  }

  const missing = studies.filter((_, i) => firstRowOf[i] === 0);
  const firstMissing = missing[0];
  if (firstMissing !== undefined) {
    const what = `${missing.length} of ${studies.length} test studies have no row, the first is ${quote(firstMissing)}`;
    throw fail(at(source, null, "Study", what), null, "Study");
  }
  return result;
}
