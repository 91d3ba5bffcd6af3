export { TASKS, type PerTask, type Task } from "./tasks.ts";
export {
  chexpertScorer,
  isScorerName,
  meanAucScorer,
  SCORER_NAMES,
  SCORER_VERSION,
  scorerFor,
  scorerSpecProblems,
  taskColumnProblems,
  type ScorerName,
  type ScorerSpec,
  type TaskScorer,
} from "./scorers.ts";
export {
  CsvFormatError,
  LabelsError,
  PredictionsError,
  ScorerError,
  ScorerInputError,
  type ScorerErrorCode,
} from "./errors.ts";
export {
  auc,
  aucOfCurve,
  pairwiseSum,
  rocCurve,
  thresholdCounts,
  trapezoid,
  type RocCurve,
  type ThresholdCounts,
} from "./roc.ts";
export {
  confusionCounts,
  isBelowCurve,
  readerPoint,
  type ConfusionCounts,
  type ReaderPoint,
} from "./readers.ts";
export {
  scoreTasks,
  type ReaderReads,
  type ReaderScore,
  type ScoreInput,
  type ScoreResult,
  type TaskScore,
} from "./score.ts";
export {
  combinedScore,
  formatAuc,
  formatRads,
  rankEntries,
  releasedFigures,
  roundTo,
  type RankedEntry,
  type ReleasedPrecision,
} from "./ranking.ts";
export { alignLabels, parseLabelsCsv, type LabelsTable } from "./labels-csv.ts";
export { parsePredictionsCsv } from "./predictions-csv.ts";
export { weightedAuc } from "./weighted-auc.ts";
export {
  bootstrapAuc,
  bootstrapDistribution,
  compareDistributions,
  intervalsOf,
  pairedComparison,
  percentile,
  type BootstrapAucResult,
  type BootstrapDistribution,
  type BootstrapInput,
  type BootstrapOptions,
  type Interval,
  type PairedComparison,
} from "./bootstrap.ts";
export {
  curves,
  majorityVote,
  precisionRecallCurve,
  type OperatingPoint,
  type PrecisionRecallCurve,
  type ReaderOperatingPoint,
  type TaskCurves,
} from "./curves.ts";
