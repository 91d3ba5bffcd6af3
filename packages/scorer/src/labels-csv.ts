/** Ground-truth and reader files (`Study` + observation columns of 0/1), read from their text. */
import {
  at,
  findColumns,
  normalizeStudy,
  parseFiniteNumber,
  quote,
  readCsvTable,
  type CsvErrorFactory,
} from "./csv-table.ts";
import { LabelsError } from "./errors.ts";
import { chexpertTasks, perTask, type PerTask, type Task } from "./tasks.ts";

export interface LabelsTable<K extends string = Task> {
  /** The task columns read, in task order. */
  readonly tasks: readonly K[];
  /** Study ids in file order, without a trailing slash. */
  readonly studies: string[];
  /** One 0/1 array per task, aligned with `studies`. */
  readonly labels: PerTask<Uint8Array, K>;
}

/**
 * Parses a ground-truth or reader file. Needs `Study` and the task columns (the five CheXpert tasks,
 * or those of `taskList`; any order; the other observation columns are ignored and not validated);
 * task values must be 0 or 1 (`1.0` is accepted). Throws LabelsError naming the first offending row
 * and column.
 */
export function parseLabelsCsv(text: string, source: string): LabelsTable;
export function parseLabelsCsv<K extends string>(
  text: string,
  source: string,
  taskList: readonly K[],
): LabelsTable<K>;
export function parseLabelsCsv<K extends string>(
  text: string,
  source: string,
  taskList: readonly K[] = chexpertTasks(),
): LabelsTable<K> {
  const fail: CsvErrorFactory = (message, row, column) => new LabelsError(message, row, column);
  const table = readCsvTable(text, source, fail);
  const columns = findColumns(table, ["Study", ...taskList], source, fail);
  if (table.rows.length === 0)
    throw fail(at(source, null, null, "the header is not followed by any row"), null, null);

  const studies: string[] = [];
  const rowOf = new Map<string, number>();
  // Left to right, so that the first problem reported is the first one a reader of the file meets.
  const taskColumns = taskList
    .map((task) => ({ task, index: columns[task] }))
    .sort((a, b) => a.index - b.index);
  const labels = perTask(taskList, () => new Uint8Array(table.rows.length));
  table.rows.forEach(({ row, fields }, i) => {
    const study = normalizeStudy(fields[columns.Study] ?? "");
    if (study.trim() === "") throw fail(at(source, row, "Study", "the study is empty"), row, "Study");
    const earlier = rowOf.get(study);
    if (earlier !== undefined) {
      throw fail(
        at(source, row, "Study", `${quote(study)} already has a row (row ${earlier})`),
        row,
        "Study",
      );
    }
    rowOf.set(study, row);
    studies.push(study);
    for (const { task, index } of taskColumns) {
      const raw = fields[index] ?? "";
      const value = parseFiniteNumber(raw);
      if (value !== 0 && value !== 1) {
        const what =
          typeof value === "number" ? `${quote(raw)} is not 0 or 1` : `${value.problem}, expected 0 or 1`;
        throw fail(at(source, row, task, what), row, task);
      }
      labels[task][i] = value;
    }
  });
  return { tasks: taskList, studies, labels };
}

/**
 * Reorders a parsed label file to the given study order (the ground truth's), e.g. a reader file whose
 * rows come in another order. Every study must be present exactly once, and no other.
 */
export function alignLabels<K extends string = Task>(
  table: LabelsTable<K>,
  studies: readonly string[],
  source: string,
): PerTask<Uint8Array, K> {
  const indexOf = new Map(table.studies.map((study, i) => [study, i]));
  const wanted = new Set(studies.map(normalizeStudy));
  const extra = table.studies.find((study) => !wanted.has(study));
  if (extra !== undefined) {
    throw new LabelsError(
      at(source, null, "Study", `${quote(extra)} is not in the ground truth`),
      null,
      "Study",
    );
  }
  const order = studies.map((study) => {
    const index = indexOf.get(normalizeStudy(study));
    if (index === undefined) {
      throw new LabelsError(at(source, null, "Study", `no row for study ${quote(study)}`), null, "Study");
    }
    return index;
  });
  return perTask(table.tasks, (task) => Uint8Array.from(order, (index) => table.labels[task][index]!));
}
