/**
 * `holdout testset generate|validate|import-chexpert`: writes a synthetic CheXpert-like test (or
 * development) set in the layout of docs/test-set.md, checks a test-set directory the way an organizer needs,
 * or builds one from the real CheXpert files. The actions are async: the root program must call
 * `parseAsync`. Exit codes: 0 fine, 1 the test set has problems, 2 bad options or input.
 */
import { Command, InvalidArgumentError } from "commander";
import type { ScorerName } from "@holdout/scorer";
import {
  DEFAULT_DEV_SEED,
  DEFAULT_DEV_STUDIES,
  DEFAULT_LONG_SIDE,
  DEFAULT_SEED,
  DEFAULT_STUDIES,
  formatSummary,
  generateTestset,
  importChexpert,
  inspectTestset,
  TestsetError,
  type GeneratedSummary,
  type TestsetReport,
} from "@holdout/testset";

/** Where the command writes and how it exits; tests pass their own. */
export interface TestsetIo {
  stdout(text: string): void;
  stderr(text: string): void;
  exitCode(code: number): void;
}

const processIo: TestsetIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  exitCode: (code) => void (process.exitCode = code),
};

interface GenerateOptions {
  out: string;
  dev?: boolean;
  seed?: number;
  studies?: number;
  longSide: number;
  scorer?: string;
  json?: boolean;
}

interface ImportOptions {
  images: string;
  groundtruth: string;
  readers: string[];
  out: string;
  copy?: boolean;
}

function integer(what: string): (value: string) => number {
  return (value) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${what} must be an integer.`);
    return Number(value);
  };
}

function describe(s: GeneratedSummary, longSide: number): string {
  const lines = [
    `generated ${s.outDir} (${s.scorer === "chexpert" ? "" : `${s.scorer}, `}seed ${s.seed}): ${s.studies} studies, ${s.images} images ` +
      `(${s.frontal} frontal, ${s.lateral} lateral), ${longSide} px long side, in ${(s.elapsedMs / 1000).toFixed(1)} s`,
    `ground-truth positives: ${Object.entries(s.positives)
      .map(([task, n]) => `${task} ${n}`)
      .join(", ")}`,
  ];
  // A mean-auc set has no benchmark readers.
  if (s.readers.length > 0)
    lines.push("benchmark readers against the ground truth (sensitivity/specificity):");
  for (const id of [...new Set(s.readers.map((r) => r.id))]) {
    const cells = s.readers
      .filter((r) => r.id === id)
      .map((r) => `${r.task} ${r.sensitivity.toFixed(2)}/${r.specificity.toFixed(2)}`);
    lines.push(`  ${id}: ${cells.join(", ")}`);
  }
  return `${lines.join("\n")}\n`;
}

/** The summary table, then every problem; exit code 1 when there is any. */
function report(io: TestsetIo, dir: string, r: TestsetReport): void {
  io.stdout(formatSummary(r.summary));
  if (r.problems.length === 0) {
    io.stdout(`\n${dir}: valid test set\n`);
    return;
  }
  io.stdout(`\n${r.problems.map((p) => `${dir}: ${p}`).join("\n")}\n`);
  io.stderr(`${dir}: ${r.problems.length} problem${r.problems.length === 1 ? "" : "s"}\n`);
  io.exitCode(1);
}

/** Runs an action; a TestsetError (bad options, unusable input) is the user's to fix: exit 2, one line. */
async function userErrors(io: TestsetIo, name: string, action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (!(error instanceof TestsetError)) throw error;
    io.stderr(`holdout testset ${name}: ${error.message}\n`);
    io.exitCode(2);
  }
}

export function testsetCommand(io: TestsetIo = processIo): Command {
  const testset = new Command("testset").description(
    "create or check a test-set directory (its layout: docs/test-set.md)",
  );

  testset
    .command("generate")
    .description("write a synthetic CheXpert-like test set: images, image list, labels and reader reads")
    .requiredOption("--out <dir>", "output directory (created; must be empty if it exists)")
    .option(
      "--dev",
      `a development set instead (CheXpert-v1.0/valid/..., ${DEFAULT_DEV_STUDIES} studies, seed ` +
        `${DEFAULT_DEV_SEED} by default): same layout, but its labels are meant to be public`,
    )
    .option(
      "--seed <n>",
      `random seed: the same seed gives byte-identical files (default ${DEFAULT_SEED})`,
      integer("--seed"),
    )
    .option("--studies <n>", `number of studies (default ${DEFAULT_STUDIES})`, integer("--studies"))
    .option("--long-side <px>", "image height in pixels", integer("--long-side"), DEFAULT_LONG_SIDE)
    .option(
      "--scorer <name>",
      "chexpert (default: the five CheXpert tasks with benchmark readers) or mean-auc (other label columns, no readers)",
    )
    .option("--json", "print the summary as JSON")
    .action((opts: GenerateOptions) =>
      userErrors(io, "generate", async () => {
        const summary = await generateTestset({
          outDir: opts.out,
          kind: opts.dev === true ? "dev" : "test",
          ...(opts.seed === undefined ? {} : { seed: opts.seed }),
          ...(opts.studies === undefined ? {} : { studies: opts.studies }),
          longSide: opts.longSide,
          // generateTestset refuses an unknown name with a TestsetError naming the known ones.
          ...(opts.scorer === undefined ? {} : { scorer: opts.scorer as ScorerName }),
        });
        io.stdout(opts.json ? `${JSON.stringify(summary)}\n` : describe(summary, opts.longSide));
      }),
    );

  testset
    .command("validate")
    .description(
      "check a test-set directory: layout, readable JPEGs, studies matching across files, 0/1 labels, " +
        "label leaks in public/, private/ permissions; prints a summary; exit code 1 if it has problems",
    )
    .argument("<dir>", "test-set directory")
    .action(async (dir: string) => report(io, dir, await inspectTestset(dir)));

  testset
    .command("import-chexpert")
    .description(
      "build a test set from the real CheXpert test files (images from Stanford AIMI, labels from the " +
        "released label repository), then validate it",
    )
    .requiredOption("--images <dir>", "folder holding CheXpert-v1.0/test/patient*/study*/view*.jpg")
    .requiredOption("--groundtruth <file>", "groundtruth.csv of the label release")
    .requiredOption(
      "--readers <files...>",
      "the radiologists' CSVs in order (bc4.csv bc6.csv bc8.csv = Radiologist 1, 2, 3)",
    )
    .requiredOption("--out <dir>", "output directory (created; must be empty if it exists)")
    .option("--copy", "copy images even where hard links would work")
    .action((opts: ImportOptions) =>
      userErrors(io, "import-chexpert", async () => {
        const r = await importChexpert({
          imagesDir: opts.images,
          groundtruth: opts.groundtruth,
          readers: opts.readers,
          outDir: opts.out,
          copy: opts.copy === true,
        });
        io.stdout(
          `imported ${r.studies} studies, ${r.images} images into ${r.outDir} ` +
            `(${r.linked} hard-linked, ${r.copied} copied)\n\n`,
        );
        report(io, r.outDir, r.report);
      }),
    );

  return testset;
}
