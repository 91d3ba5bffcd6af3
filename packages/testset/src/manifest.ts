import { readFile } from "node:fs/promises";
import { isAbsolute, join, normalize, sep } from "node:path";
import { isScorerName, SCORER_NAMES, scorerSpecProblems, type ScorerName } from "@holdout/scorer";

export const MANIFEST_FILE = "testset.json";

export interface ReaderEntry {
  id: string;
  /** Display label, e.g. "Radiologist 1". */
  label: string;
  /** Path of the reader's CSV, relative to the test-set directory (under private/). */
  file: string;
}

/** testset.json (docs/test-set.md). */
export interface TestsetManifest {
  name: string;
  version: string;
  description?: string;
  /** How the set is scored; a manifest without the field is a CheXpert set. */
  scorer: ScorerName;
  /** The label columns scored: the five CheXpert tasks for `chexpert`, any binary columns for `mean-auc`. */
  tasks: string[];
  /** Benchmark readers; always none for `mean-auc`. */
  readers: ReaderEntry[];
}

export interface PrivateLabels {
  manifest: TestsetManifest;
  /** private/groundtruth.csv as text; the scorer parses it. */
  groundtruthCsv: string;
  readers: { id: string; label: string; csv: string }[];
}

export class TestsetError extends Error {
  readonly code = "HOLDOUT_ERR_TESTSET";
}

/** The part of a test set a model may see (mounted read-only at /workspace). */
export function publicDir(dir: string): string {
  return join(dir, "public");
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === "string" && v.length > 0;
}

/** A relative path that stays inside private/: a manifest must not point the worker elsewhere. */
function isPrivatePath(p: string): boolean {
  if (isAbsolute(p)) return false;
  const n = normalize(p);
  return n.startsWith(`private${sep}`) && !n.split(sep).includes("..");
}

/** Checks the parsed JSON's shape; returns the manifest or the list of what is wrong with it. */
export function parseManifest(json: unknown): TestsetManifest | string[] {
  if (!isRecord(json)) return ["testset.json: not a JSON object"];
  const problems: string[] = [];
  if (!nonEmptyString(json.name)) problems.push("testset.json: `name` must be a non-empty string");
  if (typeof json.version !== "string" && typeof json.version !== "number") {
    problems.push("testset.json: `version` must be a string");
  }
  if (json.description !== undefined && typeof json.description !== "string") {
    problems.push("testset.json: `description` must be a string");
  }
  // Sets made before there was a choice of scorer have no `scorer`: they are CheXpert sets.
  const scorer = json.scorer ?? "chexpert";
  if (!isScorerName(scorer)) {
    problems.push(
      `testset.json: \`scorer\` must be one of ${SCORER_NAMES.join(", ")}, got ${JSON.stringify(scorer)}`,
    );
  }
  const tasks = json.tasks;
  if (!Array.isArray(tasks) || tasks.length === 0 || !tasks.every(nonEmptyString)) {
    problems.push("testset.json: `tasks` must be a non-empty array of strings");
  } else if (new Set(tasks).size !== tasks.length) {
    problems.push("testset.json: `tasks` has duplicates");
  } else if (isScorerName(scorer)) {
    problems.push(...scorerSpecProblems({ scorer, tasks }).map((p) => `testset.json: ${p}`));
  }
  const readers = json.readers ?? [];
  if (scorer === "mean-auc" && Array.isArray(readers) && readers.length > 0) {
    problems.push("testset.json: `readers` must be empty for scorer mean-auc (it compares no readers)");
  }
  if (!Array.isArray(readers)) {
    problems.push("testset.json: `readers` must be an array");
  } else {
    readers.forEach((r: unknown, i) => {
      if (!isRecord(r) || !nonEmptyString(r.id) || !nonEmptyString(r.label) || !nonEmptyString(r.file)) {
        problems.push(`testset.json: readers[${i}] needs string id, label and file`);
      } else if (!isPrivatePath(r.file)) {
        problems.push(
          `testset.json: readers[${i}].file must be a relative path under private/, got ${r.file}`,
        );
      }
    });
    const ids = readers.map((r: unknown) => (isRecord(r) ? r.id : undefined));
    if (new Set(ids).size !== ids.length) problems.push("testset.json: reader ids must be unique");
  }
  if (problems.length > 0) return problems;
  return {
    name: json.name as string,
    version: String(json.version),
    ...(typeof json.description === "string" ? { description: json.description } : {}),
    scorer: scorer as ScorerName,
    tasks: tasks as string[],
    readers: (readers as ReaderEntry[]).map((r) => ({ id: r.id, label: r.label, file: r.file })),
  };
}

/** Reads and checks `<dir>/testset.json`; throws a TestsetError naming the problem. */
export async function readTestsetManifest(dir: string): Promise<TestsetManifest> {
  const path = join(dir, MANIFEST_FILE);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, "utf8"));
  } catch (cause) {
    throw new TestsetError(`cannot read ${path}`, { cause });
  }
  const parsed = parseManifest(json);
  if (Array.isArray(parsed)) throw new TestsetError(`invalid ${path}: ${parsed.join("; ")}`);
  return parsed;
}

/**
 * The labels the scorer needs, as CSV text. Only the worker calls this: these files must never
 * reach a model's container.
 */
export async function loadPrivateLabels(dir: string): Promise<PrivateLabels> {
  const manifest = await readTestsetManifest(dir);
  const read = async (rel: string): Promise<string> => {
    try {
      return await readFile(join(dir, rel), "utf8");
    } catch (cause) {
      throw new TestsetError(`cannot read ${join(dir, rel)}`, { cause });
    }
  };
  const groundtruthCsv = await read(join("private", "groundtruth.csv"));
  const readers = [];
  for (const r of manifest.readers) readers.push({ id: r.id, label: r.label, csv: await read(r.file) });
  return { manifest, groundtruthCsv, readers };
}
