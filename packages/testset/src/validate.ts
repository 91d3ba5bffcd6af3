import { readFile, stat } from "node:fs/promises";
import { isAbsolute, join, normalize, sep } from "node:path";
import type { Options } from "csv-parse";
import { parse } from "csv-parse/sync";
import { MANIFEST_FILE, parseManifest, publicDir, type TestsetManifest } from "./manifest.ts";

export const IMAGE_LIST = "test_image_paths.csv";
export const GROUNDTRUTH = join("private", "groundtruth.csv");

// Label values as the scorer accepts them: 0 or 1, optionally written as 0.0 / 1.0.
const BINARY = /^[01](\.0+)?$/;
// Individual missing images or studies are listed up to this many; the rest are counted.
const MAX_LISTED = 10;

/** The study an image belongs to: its path without the final `/view…jpg` (contract 1). */
export function studyOfImage(path: string): string | undefined {
  const m = /^(.+)\/view[^/]*\.jpe?g$/i.exec(path);
  return m?.[1];
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function parseCsv(text: string): string[][] {
  const options: Options = { bom: true, skip_empty_lines: true, relax_column_count: true };
  return parse(text, options);
}

function listed(what: string, items: string[]): string[] {
  const shown = items.slice(0, MAX_LISTED).map((i) => `${what}: ${i}`);
  if (items.length > MAX_LISTED) shown.push(`${what}: … and ${items.length - MAX_LISTED} more`);
  return shown;
}

function safeRelative(p: string): boolean {
  return p.length > 0 && !isAbsolute(p) && !normalize(p).split(sep).includes("..");
}

/** Checks one labels file (ground truth or a reader): shape, 0/1 values, and its set of studies. */
function checkLabels(name: string, text: string, tasks: string[], studies: Set<string>): string[] {
  let rows: string[][];
  try {
    rows = parseCsv(text);
  } catch (e) {
    return [`${name}: not valid CSV (${e instanceof Error ? e.message : String(e)})`];
  }
  const header = rows[0] ?? [];
  const problems: string[] = [];
  if (header[0] !== "Study") problems.push(`${name}: first column must be \`Study\``);
  const cols = tasks.map((t) => header.indexOf(t));
  tasks.forEach((t, i) => {
    if (cols[i] === -1) problems.push(`${name}: missing column \`${t}\``);
  });
  if (problems.length > 0) return problems;

  // Every observation column holds 0/1, not only the tasks the manifest scores.
  const valueCols = header.map((_, i) => i).filter((i) => i > 0);
  const seen = new Set<string>();
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r] ?? [];
    const study = (row[0] ?? "").replace(/\/$/, "");
    if (seen.has(study)) problems.push(`${name}: row ${r + 1}: duplicate study ${study}`);
    seen.add(study);
    const bad = valueCols.find((c) => !BINARY.test(row[c] ?? ""));
    if (bad !== undefined && problems.length < MAX_LISTED) {
      problems.push(
        `${name}: row ${r + 1}: \`${header[bad]}\` must be 0 or 1, got ${JSON.stringify(row[bad] ?? "")}`,
      );
    }
  }
  problems.push(
    ...listed(
      `${name}: study in the image list but not labelled`,
      [...studies].filter((s) => !seen.has(s)),
    ),
  );
  problems.push(
    ...listed(
      `${name}: labelled study with no image`,
      [...seen].filter((s) => !studies.has(s)),
    ),
  );
  return problems;
}

/**
 * Everything wrong with a test set directory against contract 1, as human-readable lines; [] when
 * the layout is valid. Never throws for a bad test set (only for programming errors).
 */
export async function validateTestsetLayout(dir: string): Promise<string[]> {
  const problems: string[] = [];

  let manifest: TestsetManifest | undefined;
  const manifestText = await readText(join(dir, MANIFEST_FILE));
  if (manifestText === undefined) problems.push(`missing ${MANIFEST_FILE}`);
  else {
    let json: unknown;
    try {
      json = JSON.parse(manifestText);
    } catch {
      problems.push(`${MANIFEST_FILE}: not valid JSON`);
    }
    if (json !== undefined) {
      const parsed = parseManifest(json);
      if (Array.isArray(parsed)) problems.push(...parsed);
      else manifest = parsed;
    }
  }

  const studies = new Set<string>();
  const listText = await readText(join(publicDir(dir), IMAGE_LIST));
  if (listText === undefined) problems.push(`missing public/${IMAGE_LIST}`);
  else {
    const rows = parseCsv(listText);
    if (rows[0]?.[0] !== "Path") problems.push(`public/${IMAGE_LIST}: header must be \`Path\``);
    const paths = rows.slice(1).map((r) => r[0] ?? "");
    if (paths.length === 0) problems.push(`public/${IMAGE_LIST}: lists no images`);
    const seen = new Set<string>();
    const absent: string[] = [];
    for (const p of paths) {
      const study = studyOfImage(p);
      if (!safeRelative(p)) problems.push(`public/${IMAGE_LIST}: path escapes public/: ${p}`);
      else if (study === undefined)
        problems.push(`public/${IMAGE_LIST}: not a …/view<N>_<kind>.jpg path: ${p}`);
      else {
        studies.add(study);
        if (seen.has(p)) problems.push(`public/${IMAGE_LIST}: listed twice: ${p}`);
        else if (!(await isFile(join(publicDir(dir), p)))) absent.push(p);
      }
      seen.add(p);
    }
    problems.push(...listed("image listed but absent", absent));
  }

  const tasks = manifest?.tasks ?? [];
  const truth = await readText(join(dir, GROUNDTRUTH));
  if (truth === undefined) problems.push(`missing ${GROUNDTRUTH}`);
  else if (listText !== undefined) problems.push(...checkLabels(GROUNDTRUTH, truth, tasks, studies));

  for (const r of manifest?.readers ?? []) {
    const text = await readText(join(dir, r.file));
    if (text === undefined) problems.push(`missing ${r.file} (reader ${r.id})`);
    else if (listText !== undefined) problems.push(...checkLabels(r.file, text, tasks, studies));
  }
  return problems;
}
