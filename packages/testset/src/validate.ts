import { readFile, stat } from "node:fs/promises";
import { isAbsolute, join, normalize, sep } from "node:path";
import type { Options } from "csv-parse";
import { parse } from "csv-parse/sync";
import { readJpegMarkers } from "./jpeg-markers.ts";
import { MANIFEST_FILE, parseManifest, publicDir, type TestsetManifest } from "./manifest.ts";
import { privateModeProblems, publicLeaks } from "./public-leaks.ts";
import { summarize, type Labels, type TestsetSummary } from "./summary.ts";

export const IMAGE_LIST = "test_image_paths.csv";
export const GROUNDTRUTH = join("private", "groundtruth.csv");

// Label values as the scorer accepts them: 0 or 1, optionally written as 0.0 / 1.0.
const BINARY = /^[01](\.0+)?$/;
// Individual missing images or studies are listed up to this many; the rest are counted.
const MAX_LISTED = 10;

/** Everything wrong with a test set, and what it holds (as far as it could be read). */
export interface TestsetReport {
  problems: string[];
  summary: TestsetSummary;
}

/** The study an image belongs to: its path without the final `/view…jpg` (docs/test-set.md). */
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

/** One labels file (ground truth or a reader): its problems and its 0/1 labels per study and task. */
function checkLabels(
  name: string,
  text: string,
  tasks: string[],
  studies: Set<string>,
): { problems: string[]; labels: Labels } {
  const labels: Labels = new Map();
  let rows: string[][];
  try {
    rows = parseCsv(text);
  } catch (e) {
    return { problems: [`${name}: not valid CSV (${e instanceof Error ? e.message : String(e)})`], labels };
  }
  const header = rows[0] ?? [];
  const problems: string[] = [];
  if (header[0] !== "Study") problems.push(`${name}: first column must be \`Study\``);
  const cols = tasks.map((t) => header.indexOf(t));
  tasks.forEach((t, i) => {
    if (cols[i] === -1) problems.push(`${name}: missing column \`${t}\``);
  });
  if (problems.length > 0) return { problems, labels };

  // Every observation column holds 0/1, not only the tasks the manifest scores.
  const valueCols = header.map((_, i) => i).filter((i) => i > 0);
  let bad = 0;
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r] ?? [];
    const study = (row[0] ?? "").replace(/\/$/, "");
    if (labels.has(study)) problems.push(`${name}: row ${r + 1}: duplicate study ${study}`);
    const col = valueCols.find((c) => !BINARY.test(row[c] ?? ""));
    if (col !== undefined && bad++ < MAX_LISTED) {
      problems.push(
        `${name}: row ${r + 1}: \`${header[col]}\` must be 0 or 1, got ${JSON.stringify(row[col] ?? "")}`,
      );
    }
    labels.set(study, new Map(tasks.map((t, i) => [t, Number(row[cols[i] ?? -1]) === 1 ? 1 : 0])));
  }
  problems.push(
    ...listed(
      `${name}: study in the image list but not labelled`,
      [...studies].filter((s) => !labels.has(s)),
    ),
  );
  problems.push(
    ...listed(
      `${name}: labelled study with no image`,
      [...labels.keys()].filter((s) => !studies.has(s)),
    ),
  );
  return { problems, labels };
}

async function readManifest(dir: string, problems: string[]): Promise<TestsetManifest | undefined> {
  const text = await readText(join(dir, MANIFEST_FILE));
  if (text === undefined) {
    problems.push(`missing ${MANIFEST_FILE}`);
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    problems.push(`${MANIFEST_FILE}: not valid JSON`);
    return undefined;
  }
  const parsed = parseManifest(json);
  if (Array.isArray(parsed)) {
    problems.push(...parsed);
    return undefined;
  }
  return parsed;
}

/** Checks each listed image: present, a readable JPEG, and free of metadata that could carry a label. */
async function checkImages(root: string, paths: string[], problems: string[]): Promise<void> {
  const absent: string[] = [];
  const broken: string[] = [];
  const leaky: string[] = [];
  for (const p of paths) {
    let bytes: Uint8Array;
    try {
      if (!(await stat(join(root, p))).isFile()) throw new Error("not a file");
      bytes = await readFile(join(root, p));
    } catch {
      absent.push(p);
      continue;
    }
    const info = readJpegMarkers(bytes);
    if (typeof info === "string") broken.push(`${p}: ${info}`);
    else if (info.leaks.length > 0) leaky.push(`${p}: ${info.leaks.join(", ")}`);
  }
  problems.push(...listed("image listed but absent", absent));
  problems.push(...listed("image is not a readable JPEG", broken));
  problems.push(...listed("image carries data a model could read (strip it)", leaky));
}

/**
 * Everything an organizer needs to know before trusting a test-set directory (docs/test-set.md): the layout,
 * every image readable, studies matching one to one across the image list, ground truth and readers,
 * 0/1 labels with both classes per task, nothing in public/ that leaks a label, and private/ closed to
 * other users. Never throws for a bad test set (only for programming errors).
 */
export async function inspectTestset(dir: string): Promise<TestsetReport> {
  const problems: string[] = [];
  const manifest = await readManifest(dir, problems);
  const root = publicDir(dir);

  const studies = new Set<string>();
  const paths: string[] = [];
  const listText = await readText(join(root, IMAGE_LIST));
  if (listText === undefined) problems.push(`missing public/${IMAGE_LIST}`);
  else {
    const rows = parseCsv(listText);
    const header = rows[0] ?? [];
    if (header[0] !== "Path") problems.push(`public/${IMAGE_LIST}: header must be \`Path\``);
    // The list is the model's input: any other column (a label, a finding) would be read with it.
    for (const extra of header.slice(1)) {
      problems.push(
        `public/${IMAGE_LIST}: extra column ${JSON.stringify(extra)} (only \`Path\` may reach a model)`,
      );
    }
    const seen = new Set<string>();
    for (const p of rows.slice(1).map((r) => r[0] ?? "")) {
      const study = studyOfImage(p);
      if (!safeRelative(p)) problems.push(`public/${IMAGE_LIST}: path escapes public/: ${p}`);
      else if (study === undefined)
        problems.push(`public/${IMAGE_LIST}: not a …/view<N>_<kind>.jpg path: ${p}`);
      else if (seen.has(p)) problems.push(`public/${IMAGE_LIST}: listed twice: ${p}`);
      else {
        studies.add(study);
        paths.push(p);
      }
      seen.add(p);
    }
    if (seen.size === 0) problems.push(`public/${IMAGE_LIST}: lists no images`);
    await checkImages(root, paths, problems);
    problems.push(...(await publicLeaks(root, seen, IMAGE_LIST, manifest?.tasks ?? [])));
  }

  const tasks = manifest?.tasks ?? [];
  let groundTruth: Labels = new Map();
  const truth = await readText(join(dir, GROUNDTRUTH));
  if (truth === undefined) problems.push(`missing ${GROUNDTRUTH}`);
  else if (listText !== undefined) {
    const checked = checkLabels(GROUNDTRUTH, truth, tasks, studies);
    problems.push(...checked.problems);
    groundTruth = checked.labels;
  }
  const readers: { id: string; label: string; labels: Labels }[] = [];
  for (const r of manifest?.readers ?? []) {
    const text = await readText(join(dir, r.file));
    if (text === undefined) problems.push(`missing ${r.file} (reader ${r.id})`);
    else if (listText !== undefined) {
      const checked = checkLabels(r.file, text, tasks, studies);
      problems.push(...checked.problems);
      readers.push({ id: r.id, label: r.label, labels: checked.labels });
    }
  }
  problems.push(...(await privateModeProblems(join(dir, "private"))));

  const summary = summarize(paths, tasks, groundTruth, readers);
  // AUC needs both classes: a task without positives or negatives cannot be scored at all.
  if (groundTruth.size > 0) {
    for (const p of summary.prevalence) {
      if (p.positives === 0) problems.push(`${GROUNDTRUTH}: \`${p.task}\` has no positive study`);
      if (p.negatives === 0) problems.push(`${GROUNDTRUTH}: \`${p.task}\` has no negative study`);
    }
  }
  return { problems, summary };
}

/** Everything wrong with a test set directory, as human-readable lines; [] when it is valid. */
export async function validateTestsetLayout(dir: string): Promise<string[]> {
  return (await inspectTestset(dir)).problems;
}
