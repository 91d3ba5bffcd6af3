export {
  generateTestset,
  DEFAULT_LONG_SIDE,
  DEFAULT_SEED,
  DEFAULT_STUDIES,
  type GenerateOptions,
  type GeneratedSummary,
  type ReaderSummary,
} from "./generate.ts";
export { OBSERVATIONS, TASKS, type Observation, type Task } from "./labels.ts";
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
export { GROUNDTRUTH, IMAGE_LIST, studyOfImage, validateTestsetLayout } from "./validate.ts";
export { encodeGrayJpeg } from "./jpeg-gray.ts";
