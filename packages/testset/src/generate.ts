import { chmod, mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "csv-stringify/sync";
import { isScorerName, SCORER_NAMES, TASKS, type ScorerName, type Task } from "@holdout/scorer";
import { drawAnatomy } from "./anatomy.ts";
import { encodeGrayJpeg } from "./jpeg-gray.ts";
import {
  drawReader,
  GROUND_TRUTH_READERS,
  obsIndex,
  OBSERVATIONS,
  sampleTruth,
  simulateReads,
} from "./labels.ts";
import { BENCHMARK_READERS, benchmarkReads, settleGroundTruth } from "./readers.ts";
import { MANIFEST_FILE, TestsetError, type TestsetManifest } from "./manifest.ts";
import { renderFrontal } from "./render-frontal.ts";
import { renderLateral } from "./render-lateral.ts";
import { Random } from "./rng.ts";

export interface GenerateOptions {
  outDir: string;
  /**
   * "dev": a development set (public labels, for smoke runs and participants): CheXpert's validation
   * split, 200 studies under CheXpert-v1.0/valid/ from patient64541, another default seed. Same layout.
   */
  kind?: "test" | "dev";
  /**
   * "chexpert" (default): the CheXpert-like set. "mean-auc": a synthetic chest X-ray triage set for the
   * mean-auc scorer, with other label columns (TRIAGE_COLUMNS) and no benchmark readers.
   */
  scorer?: ScorerName;
  seed?: number;
  studies?: number;
  longSide?: number;
}

export interface ReaderSummary {
  id: string;
  task: Task;
  sensitivity: number;
  specificity: number;
}

export interface GeneratedSummary {
  outDir: string;
  scorer: ScorerName;
  seed: number;
  studies: number;
  images: number;
  frontal: number;
  lateral: number;
  /** Ground-truth positives per task (per label column of the set). */
  positives: Record<string, number>;
  /** Each benchmark reader against the ground truth, per task; none for a mean-auc set. */
  readers: ReaderSummary[];
  elapsedMs: number;
}

export const DEFAULT_SEED = 1;
export const DEFAULT_STUDIES = 500;
export const DEFAULT_DEV_SEED = 2;
export const DEFAULT_DEV_STUDIES = 200;
export const DEFAULT_LONG_SIDE = 320;
// CheXpert's test patients are numbered from 64741, its validation patients from 64541; one study each.
const SPLITS = {
  test: { folder: "test", firstPatient: 64741, seed: DEFAULT_SEED, studies: DEFAULT_STUDIES },
  dev: { folder: "valid", firstPatient: 64541, seed: DEFAULT_DEV_SEED, studies: DEFAULT_DEV_STUDIES },
} as const;
/**
 * The mean-auc set's label columns, made-up names for a triage reading, each labelled like one of the
 * simulated findings so that the images carry its signs (and each has both classes, as targetCount
 * guarantees for the CheXpert tasks).
 */
export const TRIAGE_COLUMNS = {
  "Lung Collapse": "Atelectasis",
  "Large Heart": "Cardiomegaly",
  "Pleural Fluid": "Pleural Effusion",
} as const satisfies Record<string, Task>;

// Per scorer: the folder the studies live in, the set's name and its label columns with their source.
const SETS = {
  chexpert: {
    family: 0,
    root: "CheXpert-v1.0",
    name: "synthetic-chexpert",
    what: "CheXpert-like",
    columns: TASKS.map((task) => [task, task] as const),
  },
  "mean-auc": {
    family: 1,
    root: "Triage-v1",
    name: "synthetic-triage",
    what: "chest X-ray triage",
    columns: Object.entries(TRIAGE_COLUMNS),
  },
} as const satisfies Record<ScorerName, object>;

// Share of studies with 2 and 3 views (the rest have a single frontal): 500 studies → 668 images.
const TWO_VIEWS = 0.304;
const JPEG_QUALITY = 90;
const THREE_VIEWS = 0.016;

type View = "frontal" | "lateral";

function checkOptions(opts: GenerateOptions): {
  scorer: ScorerName;
  seed: number;
  studies: number;
  longSide: number;
} {
  const split = SPLITS[opts.kind ?? "test"];
  const scorer: unknown = opts.scorer ?? "chexpert";
  if (!isScorerName(scorer)) {
    throw new TestsetError(`scorer must be one of ${SCORER_NAMES.join(", ")}, got ${String(scorer)}`);
  }
  const seed = opts.seed ?? split.seed;
  const studies = opts.studies ?? split.studies;
  const longSide = opts.longSide ?? DEFAULT_LONG_SIDE;
  // pure-rand seeds are 32-bit: a wider range would silently give equal sets for different seeds.
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new TestsetError(`seed must be an integer in 0..4294967295, got ${seed}`);
  }
  if (!Number.isInteger(studies) || studies < 1 || studies > 100_000) {
    throw new TestsetError(`studies must be an integer in 1..100000, got ${studies}`);
  }
  if (!Number.isInteger(longSide) || longSide < 64 || longSide > 4096) {
    throw new TestsetError(`longSide must be an integer in 64..4096 pixels, got ${longSide}`);
  }
  return { scorer, seed, studies, longSide };
}

export async function ensureEmptyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const entries = await readdir(dir);
  if (entries.length > 0) {
    throw new TestsetError(
      `output directory ${dir} is not empty; refusing to mix test sets (remove it first)`,
    );
  }
}

/** Views per study: counts are fixed by the shares above, their placement is drawn. */
function assignViews(rng: Random, n: number): View[][] {
  const three = Math.round(THREE_VIEWS * n);
  const two = Math.min(n - three, Math.round(TWO_VIEWS * n));
  const plan = Array.from({ length: n }, (_, i): View[] =>
    i < three ? ["frontal", "frontal", "lateral"] : i < three + two ? ["frontal", "lateral"] : ["frontal"],
  );
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [plan[i], plan[j]] = [plan[j] ?? [], plan[i] ?? []];
  }
  return plan;
}

export function labelsCsv(studies: string[], rows: number[][]): string {
  return stringify(
    studies.map((s, i) => [s, ...(rows[i] ?? [])]),
    { header: true, columns: ["Study", ...OBSERVATIONS] },
  );
}

function readerSummary(id: string, reads: number[][], truth: number[][]): ReaderSummary[] {
  return TASKS.map((task) => {
    const k = obsIndex(task);
    let tp = 0;
    let fn = 0;
    let tn = 0;
    let fp = 0;
    truth.forEach((row, s) => {
      const call = reads[s]?.[k] === 1;
      if (row[k] === 1) {
        if (call) tp++;
        else fn++;
      } else if (call) fp++;
      else tn++;
    });
    return { id, task, sensitivity: tp / Math.max(1, tp + fn), specificity: tn / Math.max(1, tn + fp) };
  });
}

/**
 * Writes a synthetic CheXpert-like (or, for mean-auc, triage) test set in the layout of
 * docs/test-set.md. The same options give byte-identical files: every random draw comes from one
 * seeded stream, split per study.
 */
export async function generateTestset(opts: GenerateOptions): Promise<GeneratedSummary> {
  const started = performance.now();
  const { scorer, seed, studies: n, longSide } = checkOptions(opts);
  await ensureEmptyDir(opts.outDir);
  const set = SETS[scorer];

  // A triage set's columns are CheXpert findings renamed: from the same stream, a triage set and a
  // CheXpert set of one seed would share images and labels, and one would give the other's away.
  const master = Random.fromSeed(seed, set.family);
  const truthRng = master.split();
  const readerRng = master.split();
  const viewRng = master.split();

  const kind = opts.kind ?? "test";
  const split = SPLITS[kind];
  const truth = sampleTruth(truthRng, n);
  const groundTruthReads = Array.from({ length: GROUND_TRUTH_READERS }, () =>
    simulateReads(readerRng, truth, drawReader(readerRng)),
  );
  const groundTruth = settleGroundTruth(groundTruthReads, truth);
  const benchmark = (scorer === "chexpert" ? BENCHMARK_READERS : []).map((r) => ({
    ...r,
    reads: benchmarkReads(
      readerRng,
      truth,
      groundTruth,
      simulateReads(readerRng, truth, drawReader(readerRng)),
      r,
    ),
  }));
  const views = assignViews(viewRng, n);

  const publicDir = join(opts.outDir, "public");
  const privateDir = join(opts.outDir, "private");
  await mkdir(publicDir);
  // The labels must never be readable by other users of the worker host.
  await mkdir(privateDir, { mode: 0o700 });
  await chmod(privateDir, 0o700);
  if (benchmark.length > 0) {
    await mkdir(join(privateDir, "readers"), { mode: 0o700 });
    await chmod(join(privateDir, "readers"), 0o700);
  }

  const studyIds: string[] = [];
  const imagePaths: string[] = [];
  let frontal = 0;
  let lateral = 0;
  // Rendering is CPU-bound and writing is not: let a bounded number of writes run behind the renderer.
  let pending: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const rng = master.split();
    const study = `${set.root}/${split.folder}/patient${split.firstPatient + i}/study1`;
    studyIds.push(study);
    const anatomy = drawAnatomy(rng, truth[i] ?? []);
    const images: { path: string; jpeg: Uint8Array }[] = [];
    (views[i] ?? ["frontal"]).forEach((view, k) => {
      const width = Math.round(longSide * rng.range(0.8, 1));
      const pixels =
        view === "frontal"
          ? renderFrontal(rng, anatomy, width, longSide)
          : renderLateral(rng, anatomy, width, longSide);
      const path = `${study}/view${k + 1}_${view}.jpg`;
      imagePaths.push(path);
      if (view === "frontal") frontal++;
      else lateral++;
      images.push({ path, jpeg: encodeGrayJpeg(pixels, width, longSide, JPEG_QUALITY) });
    });
    pending.push(
      mkdir(join(publicDir, study), { recursive: true }).then(async () => {
        for (const img of images) await writeFile(join(publicDir, img.path), img.jpeg);
      }),
    );
    if (pending.length >= 32) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);

  await writeFile(
    join(publicDir, "test_image_paths.csv"),
    stringify(
      imagePaths.map((p) => [p]),
      { header: true, columns: ["Path"] },
    ),
  );
  const truthCsv =
    scorer === "chexpert"
      ? labelsCsv(studyIds, groundTruth)
      : stringify(
          studyIds.map((study, s) => [study, ...set.columns.map(([, o]) => groundTruth[s]?.[obsIndex(o)])]),
          { header: true, columns: ["Study", ...set.columns.map(([column]) => column)] },
        );
  await writeFile(join(privateDir, "groundtruth.csv"), truthCsv, { mode: 0o600 });
  for (const r of benchmark) {
    await writeFile(join(privateDir, "readers", `${r.id}.csv`), labelsCsv(studyIds, r.reads), {
      mode: 0o600,
    });
  }
  const manifest: TestsetManifest = {
    name: kind === "dev" ? `${set.name}-dev-${seed}` : `${set.name}-${seed}`,
    version: "1",
    description:
      (kind === "dev"
        ? `Synthetic ${set.what} development set (seed ${seed}, ${n} studies, ${longSide} px); ` +
          "its labels are public: hand the whole directory to participants. "
        : `Synthetic ${set.what} test set (seed ${seed}, ${n} studies, ${longSide} px). `) +
      "Images and labels are simulated; no patient data.",
    scorer,
    tasks: set.columns.map(([column]) => column),
    readers: benchmark.map((r) => ({
      id: r.id,
      label: r.label,
      file: `private/readers/${r.id}.csv`,
    })),
  };
  await writeFile(join(opts.outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);

  const positives = Object.fromEntries(
    set.columns.map(([column, o]) => [column, groundTruth.filter((row) => row[obsIndex(o)] === 1).length]),
  );
  return {
    outDir: opts.outDir,
    scorer,
    seed,
    studies: n,
    images: imagePaths.length,
    frontal,
    lateral,
    positives,
    readers: benchmark.flatMap((r) => readerSummary(r.id, r.reads, groundTruth)),
    elapsedMs: Math.round(performance.now() - started),
  };
}
