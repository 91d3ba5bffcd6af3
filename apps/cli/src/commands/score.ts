/**
 * `holdout score`: scores a predictions.csv with the official CheXpert metric (docs/architecture.md, "`holdout score` output"),
 * optionally with bootstrap 95% confidence intervals (`--bootstrap N --seed S`). Invalid input
 * (unreadable or malformed files, bad options) sets exit code 2 with one line on stderr.
 * The action is async: the root program must call `parseAsync`.
 */
import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { Command } from "commander";
import { z } from "zod";
import {
  alignLabels,
  bootstrapAuc,
  formatAuc,
  formatRads,
  parseLabelsCsv,
  parsePredictionsCsv,
  ScorerError,
  scoreTasks,
  TASKS,
  type BootstrapAucResult,
  type BootstrapOptions,
  type ReaderReads,
  type ScoreResult,
} from "@holdout/scorer";

/** Where the command writes; tests pass their own. */
export interface CommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIo: CommandIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

interface ScoreOptions {
  testset?: string;
  groundtruth?: string;
  readers?: string[];
  predictions?: string;
  bootstrap?: string;
  seed?: string;
  json?: boolean;
}

/** The official score, and its confidence intervals when --bootstrap was given. */
interface Scored {
  result: ScoreResult;
  intervals: BootstrapAucResult | null;
}

const MAX_REPLICATES = 100_000;
const MAX_SEED = 0xffff_ffff;

/** The user's input is at fault: reported on one line with exit code 2. */
class InputError extends Error {}

interface LabelSources {
  groundtruth: string;
  readers: { id: string; file: string }[];
}

/** The parts of testset.json (docs/test-set.md) this command needs; other fields are not its business. */
const TestsetManifest = z.object({
  readers: z.array(z.object({ id: z.string().min(1), file: z.string().min(1) })).optional(),
});

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    const reason = error instanceof Error && "code" in error ? String(error.code) : String(error);
    throw new InputError(`cannot read ${what} ${file} (${reason})`, { cause: error });
  }
}

const idOf = (file: string) => basename(file).replace(/\.csv$/i, "");

/**
 * Reader files of a test-set directory: those listed in testset.json `readers[]` when it lists any
 * (`file` relative to the test-set directory; a bare file name is looked up in `private/readers/`),
 * otherwise every `private/readers/*.csv`, named by file name.
 */
async function testsetSources(dir: string): Promise<LabelSources> {
  const groundtruth = join(dir, "private", "groundtruth.csv");
  const readersDir = join(dir, "private", "readers");
  let manifestText: string | null = null;
  try {
    manifestText = await readFile(join(dir, "testset.json"), "utf8");
  } catch (error) {
    if (!(error instanceof Error && "code" in error && error.code === "ENOENT")) {
      throw new InputError(`cannot read ${join(dir, "testset.json")}`, { cause: error });
    }
  }
  if (manifestText !== null) {
    let json: unknown;
    try {
      json = JSON.parse(manifestText);
    } catch (error) {
      throw new InputError(`${join(dir, "testset.json")} is not valid JSON`, { cause: error });
    }
    const manifest = TestsetManifest.safeParse(json);
    if (!manifest.success) {
      const issue = manifest.error.issues[0];
      const where = issue === undefined ? "" : ` at ${issue.path.join(".")}: ${issue.message}`;
      throw new InputError(`${join(dir, "testset.json")} is invalid${where}`);
    }
    const listed = manifest.data.readers ?? [];
    if (listed.length > 0) {
      const readers = listed.map(({ id, file }) => ({
        id,
        file: file.includes("/") ? join(dir, file) : join(readersDir, file),
      }));
      return { groundtruth, readers };
    }
  }
  let names: string[];
  try {
    names = await readdir(readersDir);
  } catch (error) {
    throw new InputError(`cannot list the reader files in ${readersDir}`, { cause: error });
  }
  const files = names.filter((name) => name.toLowerCase().endsWith(".csv")).sort();
  return { groundtruth, readers: files.map((name) => ({ id: idOf(name), file: join(readersDir, name) })) };
}

function labelSources(options: ScoreOptions): LabelSources | Promise<LabelSources> {
  const explicit = options.groundtruth !== undefined || options.readers !== undefined;
  if (options.testset !== undefined) {
    if (explicit) throw new InputError("use either --testset or --groundtruth with --readers, not both");
    return testsetSources(options.testset);
  }
  if (options.groundtruth === undefined || options.readers === undefined) {
    throw new InputError("missing --testset DIR, or --groundtruth FILE with --readers FILE...");
  }
  return {
    groundtruth: options.groundtruth,
    readers: options.readers.map((file) => ({ id: idOf(file), file })),
  };
}

/** A decimal integer option in [min, max]; commander hands over the raw text. */
function integerOption(raw: string, flag: string, min: number, max: number): number {
  const text = raw.trim();
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max)) {
    throw new InputError(`${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * --bootstrap N and --seed S go together: the intervals are random, so a run is only reproducible
 * with its seed, and a default seed would hide that from whoever compares two runs.
 */
function bootstrapOptions(options: ScoreOptions): BootstrapOptions | null {
  if (options.bootstrap === undefined) {
    if (options.seed !== undefined) throw new InputError("--seed only applies with --bootstrap N");
    return null;
  }
  const replicates = integerOption(options.bootstrap, "--bootstrap", 1, MAX_REPLICATES);
  if (options.seed === undefined) {
    throw new InputError(`--bootstrap needs --seed S (an integer from 0 to ${MAX_SEED}) to be reproducible`);
  }
  return { replicates, seed: integerOption(options.seed, "--seed", 0, MAX_SEED) };
}

async function runScore(options: ScoreOptions): Promise<Scored> {
  // Options first: a typo in a number should not wait for the files to be read.
  const bootstrap = bootstrapOptions(options);
  if (options.predictions === undefined) throw new InputError("missing --predictions FILE");
  const sources = await labelSources(options);
  if (sources.readers.length === 0)
    throw new InputError("no reader files: the metric needs the readers' reads");
  const duplicate = sources.readers.find((r, i) => sources.readers.findIndex((o) => o.id === r.id) !== i);
  if (duplicate !== undefined) throw new InputError(`two reader files are both named ${duplicate.id}`);

  const truth = parseLabelsCsv(await readText(sources.groundtruth, "ground truth"), sources.groundtruth);
  const readers: ReaderReads[] = [];
  for (const { id, file } of sources.readers) {
    const table = parseLabelsCsv(await readText(file, `reader ${id}`), file);
    readers.push({ id, reads: alignLabels(table, truth.studies, file) });
  }
  const predictionsText = await readText(options.predictions, "predictions");
  const predictions = parsePredictionsCsv(predictionsText, truth.studies, options.predictions);
  const result = scoreTasks({ truth: truth.labels, predictions, readers });
  const intervals = bootstrap === null ? null : bootstrapAuc({ truth: truth.labels, predictions }, bootstrap);
  return { result, intervals };
}

/** The `--json` output (docs/architecture.md): the intervals are null without --bootstrap. */
function toContractJson({ result, intervals }: Scored) {
  return {
    meanAuc: result.meanAuc,
    meanRadsBelowCurve: result.meanRadsBelowCurve,
    score: result.score,
    tasks: result.tasks.map((t) => ({
      task: t.task,
      auc: t.auc,
      radsBelowCurve: t.radsBelowCurve,
      auc95: intervals?.tasks.find((i) => i.task === t.task)?.auc95 ?? null,
      roc: t.roc,
    })),
    meanAuc95: intervals?.meanAuc95 ?? null,
    readers: result.readers,
  };
}

const formatInterval = (interval: [number, number] | undefined) =>
  interval === undefined ? "" : `${formatAuc(interval[0])}-${formatAuc(interval[1])}`.padEnd(13);

function formatTable({ result, intervals }: Scored): string {
  const width = Math.max(...TASKS.map((task) => task.length), "Mean".length) + 2;
  const ids = [...new Set(result.readers.map((r) => r.id))];
  const ci = intervals === null ? "" : "95% CI       ";
  const lines = [`${"Task".padEnd(width)}AUC    ${ci}Rads below curve   Readers (specificity/sensitivity)`];
  for (const t of result.tasks) {
    const interval = intervals?.tasks.find((i) => i.task === t.task)?.auc95;
    const points = ids.map((id) => {
      const p = result.readers.find((r) => r.id === id && r.task === t.task);
      return p === undefined ? id : `${id} ${p.specificity.toFixed(3)}/${p.sensitivity.toFixed(3)}`;
    });
    lines.push(
      `${t.task.padEnd(width)}${formatAuc(t.auc).padEnd(7)}${formatInterval(interval)}${String(t.radsBelowCurve).padEnd(19)}${points.join("  ")}`,
    );
  }
  lines.push(
    `${"Mean".padEnd(width)}${formatAuc(result.meanAuc).padEnd(7)}${formatInterval(intervals?.meanAuc95)}${formatRads(result.meanRadsBelowCurve)}`,
  );
  lines.push(`Score (mean AUC + 0.001 x mean rads below curve): ${result.score.toFixed(6)}`);
  if (intervals !== null) {
    lines.push(
      `95% CI: percentile bootstrap over studies, ${intervals.replicates} replicates` +
        (intervals.degenerate > 0 ? ` (${intervals.degenerate} without both classes skipped)` : ""),
    );
  }
  return `${lines.join("\n")}\n`;
}

export function scoreCommand(io: CommandIo = processIo): Command {
  return new Command("score")
    .description("score a predictions CSV with the official CheXpert metric")
    .option("--testset <dir>", "test-set directory: private/groundtruth.csv and the reader files")
    .option("--groundtruth <file>", "ground-truth CSV (instead of --testset)")
    .option("--readers <files...>", "radiologist reader CSVs (with --groundtruth)")
    .option("--predictions <file>", "the predictions CSV to score (required)")
    .option("--bootstrap <n>", `bootstrap replicates for 95% confidence intervals (1-${MAX_REPLICATES})`)
    .option("--seed <s>", `seed of the bootstrap resampling (0-${MAX_SEED}), required with --bootstrap`)
    .option("--json", "print one JSON object (its fields: docs/architecture.md)")
    .action(async (options: ScoreOptions) => {
      let result: Scored;
      try {
        result = await runScore(options);
      } catch (error) {
        if (error instanceof InputError || error instanceof ScorerError) {
          io.stderr(`holdout score: ${error.message.replace(/\s*\n\s*/g, " ")}\n`);
          process.exitCode = 2;
          return;
        }
        throw error;
      }
      io.stdout(options.json === true ? `${JSON.stringify(toContractJson(result))}\n` : formatTable(result));
    });
}
