/**
 * Errors thrown by the scorer. Each carries a stable `code` so callers (worker, CLI, API) can classify
 * it without `instanceof` ladders: all of them are faults of the input, never of the infrastructure.
 */
export type ScorerErrorCode =
  "HOLDOUT_ERR_INVALID_PREDICTIONS" | "HOLDOUT_ERR_INVALID_LABELS" | "HOLDOUT_ERR_SCORER_INPUT";

export abstract class ScorerError extends Error {
  abstract readonly code: ScorerErrorCode;
}

/**
 * A CSV file that does not follow its contract. Row convention: `row` counts CSV records the way a
 * spreadsheet numbers them, the header being row 1 and the first data row row 2 (blank lines are skipped
 * and not counted). `row` is null for problems that belong to no single row (an empty file, studies with
 * no row at all); `column` is null when no single column is at fault (e.g. a row with too many fields).
 */
export abstract class CsvFormatError extends ScorerError {
  readonly row: number | null;
  readonly column: string | null;

  constructor(message: string, row: number | null, column: string | null) {
    super(message);
    this.row = row;
    this.column = column;
  }
}

/** A participant's predictions.csv is invalid (the submission fails with `invalid_output`). */
export class PredictionsError extends CsvFormatError {
  override readonly name = "PredictionsError";
  readonly code = "HOLDOUT_ERR_INVALID_PREDICTIONS";
}

/** An organizer's ground-truth or reader file is invalid. */
export class LabelsError extends CsvFormatError {
  override readonly name = "LabelsError";
  readonly code = "HOLDOUT_ERR_INVALID_LABELS";
}

/** Arrays handed to the metric functions cannot be scored (e.g. a task with no positive study). */
export class ScorerInputError extends ScorerError {
  override readonly name = "ScorerInputError";
  readonly code = "HOLDOUT_ERR_SCORER_INPUT";
}

/** Prefixes the failing task to a metric error so the message says where the problem is. */
export function forTask<T>(task: string, compute: () => T): T {
  try {
    return compute();
  } catch (error) {
    if (error instanceof ScorerInputError) {
      throw new ScorerInputError(`${task}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
