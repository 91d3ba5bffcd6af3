export { ArchiveRejection, type RejectionCode } from "./rejection.ts";
export { ExpansionMeter, RATIO_SLACK_BYTES } from "./budget.ts";
export { sniffFormat, TAR_MAGIC_END, type ArchiveFormat } from "./sniff.ts";
export { entryParts, normalizeEntryName, symlinkEscapes, MAX_DEPTH, MAX_PATH_BYTES } from "./paths.ts";
export { TarHeaderCheck, type EntryHead, type EntryType, type HeaderPolicy } from "./header-check.ts";
export { TreeCheck } from "./tree-check.ts";
export { isGzipFile, walkTar, type EntryBody, type EntryHandler, type WalkLimits } from "./tar-walk.ts";
export { BLOCK, checksum, isZero, octal } from "./header-fields.ts";
