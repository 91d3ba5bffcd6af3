export { TASKS, type PerTask, type Task } from "./tasks.ts";
export {
  CsvFormatError,
  LabelsError,
  PredictionsError,
  ScorerError,
  ScorerInputError,
  type ScorerErrorCode,
} from "./errors.ts";
export { auc, aucOfCurve, pairwiseSum, rocCurve, trapezoid, type RocCurve } from "./roc.ts";
export { isBelowCurve, readerPoint, type ReaderPoint } from "./readers.ts";
export {
  scoreTasks,
  type ReaderReads,
  type ReaderScore,
  type ScoreInput,
  type ScoreResult,
  type TaskScore,
} from "./score.ts";
export { combinedScore, formatAuc, formatRads, rankEntries, type RankedEntry } from "./ranking.ts";
export { alignLabels, parseLabelsCsv, type LabelsTable } from "./labels-csv.ts";
export { parsePredictionsCsv } from "./predictions-csv.ts";
