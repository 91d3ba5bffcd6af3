export {
  generateTestset,
  DEFAULT_DEV_SEED,
  DEFAULT_DEV_STUDIES,
  DEFAULT_LONG_SIDE,
  DEFAULT_SEED,
  DEFAULT_STUDIES,
  TRIAGE_COLUMNS,
  type GenerateOptions,
  type GeneratedSummary,
  type ReaderSummary,
} from "./generate.ts";
export { OBSERVATIONS, type Observation } from "./labels.ts";
export {
  loadPrivateLabels,
  MANIFEST_FILE,
  parseManifest,
  publicDir,
  readTestsetManifest,
  TestsetError,
  type PrivateLabels,
  type ReaderEntry,
  type TestsetManifest,
} from "./manifest.ts";
export {
  GROUNDTRUTH,
  IMAGE_LIST,
  inspectTestset,
  studyOfImage,
  validateTestsetLayout,
  type TestsetReport,
} from "./validate.ts";
export { formatSummary, type TestsetSummary } from "./summary.ts";
export { readJpegMarkers, type JpegInfo } from "./jpeg-markers.ts";
export { BENCHMARK_READERS, type BenchmarkReader, type OperatingPoint } from "./readers.ts";
export { importChexpert, type ImportOptions, type ImportResult } from "./import-chexpert.ts";
export { encodeGrayJpeg } from "./jpeg-gray.ts";
export {
  checkCompetitionSets,
  CompetitionSetsError,
  contentSha256,
  type CheckedCompetitionSets,
} from "./competition-sets.ts";
