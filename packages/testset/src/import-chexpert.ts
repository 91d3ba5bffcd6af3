import { chmod, copyFile, link, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { ensureEmptyDir } from "./generate.ts";
import { TASKS } from "@holdout/scorer";
import { OBSERVATIONS } from "./labels.ts";
import { MANIFEST_FILE, TestsetError, type TestsetManifest } from "./manifest.ts";
import { IMAGE_LIST, inspectTestset, type TestsetReport } from "./validate.ts";

export interface ImportOptions {
  /** Folder holding the images as downloaded, i.e. `<imagesDir>/CheXpert-v1.0/test/patient…/study…/view…jpg`. */
  imagesDir: string;
  /** groundtruth.csv of the released label repository. */
  groundtruth: string;
  /** Reader CSVs (bc4.csv, bc6.csv, bc8.csv): Radiologist 1, 2, 3 in this order. */
  readers: string[];
  outDir: string;
  /** Always copy, even where a hard link would do. */
  copy?: boolean;
}

export interface ImportResult {
  outDir: string;
  studies: number;
  images: number;
  linked: number;
  copied: number;
  report: TestsetReport;
}

const VIEW = /^view(\d+)_[a-z]+\.jpe?g$/i;
const MAX_LISTED = 10;

interface LabelFile {
  studies: string[];
  rows: Map<string, Map<string, number>>;
}

/** A released label CSV, checked: `Study`, the 5 tasks at least, 0/1 values (1.0 accepted), no duplicates. */
async function readLabels(file: string): Promise<LabelFile> {
  let records: Record<string, string>[];
  try {
    records = parse<Record<string, string>>(await readFile(file, "utf8"), {
      columns: true,
      bom: true,
      skip_empty_lines: true,
    });
  } catch (cause) {
    throw new TestsetError(`cannot read ${file} as CSV`, { cause });
  }
  const header = Object.keys(records[0] ?? {});
  for (const col of ["Study", ...TASKS]) {
    if (!header.includes(col)) throw new TestsetError(`${file}: no \`${col}\` column`);
  }
  const rows = new Map<string, Map<string, number>>();
  const studies: string[] = [];
  records.forEach((rec, i) => {
    const study = (rec.Study ?? "").replace(/\/$/, "");
    if (rows.has(study)) throw new TestsetError(`${file}: row ${i + 2}: duplicate study ${study}`);
    const values = new Map<string, number>();
    for (const o of OBSERVATIONS) {
      const raw = rec[o];
      if (raw === undefined) continue;
      const v = Number(raw);
      if (raw.trim() === "" || (v !== 0 && v !== 1)) {
        throw new TestsetError(`${file}: row ${i + 2}: \`${o}\` must be 0 or 1, got ${JSON.stringify(raw)}`);
      }
      values.set(o, v);
    }
    rows.set(study, values);
    studies.push(study);
  });
  return { studies, rows };
}

/** Writes labels with the columns in the ground truth's (official) order, whatever the source order. */
function labelsCsv(studies: string[], columns: string[], rows: LabelFile["rows"]): string {
  return stringify(
    studies.map((s) => [s, ...columns.map((c) => rows.get(s)?.get(c) ?? 0)]),
    { header: true, columns: ["Study", ...columns] },
  );
}

/**
 * Where a study's folder is under `imagesDir`. The release unpacks to `CheXpert-v1.0/test/…`, but a user
 * may point at `CheXpert-v1.0` or `test` itself: the first study decides how many leading parts to drop.
 */
async function studyLocator(imagesDir: string, first: string): Promise<(study: string) => string> {
  const parts = first.split("/");
  for (let drop = 0; drop < parts.length - 1; drop++) {
    const candidate = join(imagesDir, ...parts.slice(drop));
    if (
      await stat(candidate)
        .then((s) => s.isDirectory())
        .catch(() => false)
    ) {
      return (study) => join(imagesDir, ...study.split("/").slice(drop));
    }
  }
  throw new TestsetError(
    `no folder for study ${first} under ${imagesDir} (expected ${join(imagesDir, first)})`,
  );
}

async function viewsOf(folder: string): Promise<string[]> {
  const names = await readdir(folder).catch(() => [] as string[]);
  return names
    .filter((n) => VIEW.test(n))
    .sort((a, b) => Number(VIEW.exec(a)?.[1]) - Number(VIEW.exec(b)?.[1]) || a.localeCompare(b));
}

/** Hard link when allowed (same filesystem: no extra space, instant), else a copy. */
async function place(src: string, dest: string, copy: boolean): Promise<"linked" | "copied"> {
  if (!copy) {
    try {
      await link(src, dest);
      return "linked";
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "EXDEV" && code !== "EPERM" && code !== "ENOTSUP" && code !== "EMLINK") throw error;
    }
  }
  await copyFile(src, dest);
  return "copied";
}

/**
 * Builds a test set (the layout of docs/test-set.md) from the real CheXpert test files: images as released by Stanford AIMI,
 * labels as in the released label repository (reader files list their columns in another order; they
 * are rewritten in the ground truth's). Then validates it; the caller decides what problems mean.
 */
export async function importChexpert(opts: ImportOptions): Promise<ImportResult> {
  if (opts.readers.length === 0) throw new TestsetError("at least one reader file is needed");
  const truth = await readLabels(opts.groundtruth);
  if (truth.studies.length === 0) throw new TestsetError(`${opts.groundtruth}: no studies`);
  const columns = OBSERVATIONS.filter((o) => truth.rows.get(truth.studies[0] ?? "")?.has(o));
  const readers: { id: string; label: string; labels: LabelFile }[] = [];
  for (const [i, file] of opts.readers.entries()) {
    const id = basename(file).replace(/\.csv$/i, "");
    if (!/^[A-Za-z0-9_-]+$/.test(id))
      throw new TestsetError(`reader file name ${file}: use letters, digits, _ or -`);
    if (readers.some((r) => r.id === id)) throw new TestsetError(`two reader files named ${id}`);
    readers.push({ id, label: `Radiologist ${i + 1}`, labels: await readLabels(file) });
  }

  const locate = await studyLocator(opts.imagesDir, truth.studies[0] ?? "");
  const images: { src: string; path: string }[] = [];
  const missing: string[] = [];
  for (const study of truth.studies) {
    const views = await viewsOf(locate(study));
    if (views.length === 0) missing.push(study);
    for (const v of views) images.push({ src: join(locate(study), v), path: `${study}/${v}` });
  }
  if (missing.length > 0) {
    const shown = missing.slice(0, MAX_LISTED).join(", ");
    const more = missing.length > MAX_LISTED ? ` and ${missing.length - MAX_LISTED} more` : "";
    throw new TestsetError(
      `${missing.length} labelled studies have no view*.jpg under ${opts.imagesDir}: ${shown}${more}`,
    );
  }

  await ensureEmptyDir(opts.outDir);
  const pub = join(opts.outDir, "public");
  const priv = join(opts.outDir, "private");
  await mkdir(join(priv, "readers"), { recursive: true, mode: 0o700 });
  await chmod(priv, 0o700);
  let linked = 0;
  for (const img of images) {
    await mkdir(join(pub, img.path, ".."), { recursive: true });
    if ((await place(img.src, join(pub, img.path), opts.copy === true)) === "linked") linked++;
  }
  await writeFile(
    join(pub, IMAGE_LIST),
    stringify(
      images.map((i) => [i.path]),
      { header: true, columns: ["Path"] },
    ),
  );
  await writeFile(join(priv, "groundtruth.csv"), labelsCsv(truth.studies, columns, truth.rows), {
    mode: 0o600,
  });
  for (const r of readers) {
    await writeFile(join(priv, "readers", `${r.id}.csv`), labelsCsv(truth.studies, columns, r.labels.rows), {
      mode: 0o600,
    });
  }
  const manifest: TestsetManifest = {
    name: "chexpert-test",
    version: "1",
    description: `CheXpert test set (${truth.studies.length} studies), imported from the released images and labels.`,
    scorer: "chexpert",
    tasks: [...TASKS],
    readers: readers.map((r) => ({ id: r.id, label: r.label, file: `private/readers/${r.id}.csv` })),
  };
  await writeFile(join(opts.outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return {
    outDir: opts.outDir,
    studies: truth.studies.length,
    images: images.length,
    linked,
    copied: images.length - linked,
    report: await inspectTestset(opts.outDir),
  };
}
