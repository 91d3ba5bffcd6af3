/**
 * `holdout testset generate|validate`: writes a synthetic CheXpert-like test set in the contract-1
 * layout, or checks a test-set directory against that layout. Both actions are async: the root
 * program must call `parseAsync`.
 */
import { Command, InvalidArgumentError } from "commander";
import {
  DEFAULT_LONG_SIDE,
  DEFAULT_SEED,
  DEFAULT_STUDIES,
  generateTestset,
  TestsetError,
  validateTestsetLayout,
  type GeneratedSummary,
} from "@holdout/testset";

/** Where the command writes; tests pass their own. */
export interface TestsetIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIo: TestsetIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

interface GenerateOptions {
  out: string;
  seed: number;
  studies: number;
  longSide: number;
  json?: boolean;
}

function integer(what: string): (value: string) => number {
  return (value) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${what} must be an integer.`);
    return Number(value);
  };
}

function describe(s: GeneratedSummary, longSide: number): string {
  const lines = [
    `generated ${s.outDir} (seed ${s.seed}): ${s.studies} studies, ${s.images} images ` +
      `(${s.frontal} frontal, ${s.lateral} lateral), ${longSide} px long side, in ${(s.elapsedMs / 1000).toFixed(1)} s`,
    `ground-truth positives: ${Object.entries(s.positives)
      .map(([task, n]) => `${task} ${n}`)
      .join(", ")}`,
    "benchmark readers against the ground truth (sensitivity/specificity):",
  ];
  for (const id of [...new Set(s.readers.map((r) => r.id))]) {
    const cells = s.readers
      .filter((r) => r.id === id)
      .map((r) => `${r.task} ${r.sensitivity.toFixed(2)}/${r.specificity.toFixed(2)}`);
    lines.push(`  ${id}: ${cells.join(", ")}`);
  }
  return `${lines.join("\n")}\n`;
}

export function testsetCommand(io: TestsetIo = processIo): Command {
  const testset = new Command("testset").description("create or check a test-set directory (contract 1)");

  testset
    .command("generate")
    .description("write a synthetic CheXpert-like test set: images, image list, labels and reader reads")
    .requiredOption("--out <dir>", "output directory (created; must be empty if it exists)")
    .option(
      "--seed <n>",
      "random seed: the same seed gives byte-identical files",
      integer("--seed"),
      DEFAULT_SEED,
    )
    .option("--studies <n>", "number of studies", integer("--studies"), DEFAULT_STUDIES)
    .option("--long-side <px>", "image height in pixels", integer("--long-side"), DEFAULT_LONG_SIDE)
    .option("--json", "print the summary as JSON")
    .action(async (opts: GenerateOptions) => {
      try {
        const summary = await generateTestset({
          outDir: opts.out,
          seed: opts.seed,
          studies: opts.studies,
          longSide: opts.longSide,
        });
        io.stdout(opts.json ? `${JSON.stringify(summary)}\n` : describe(summary, opts.longSide));
      } catch (error) {
        // Bad options or a non-empty output directory are the user's to fix; anything else propagates.
        if (!(error instanceof TestsetError)) throw error;
        io.stderr(`holdout testset generate: ${error.message}\n`);
        process.exitCode = 2;
      }
    });

  testset
    .command("validate")
    .description("check a test-set directory against the contract-1 layout; exit code 1 if it has problems")
    .argument("<dir>", "test-set directory")
    .action(async (dir: string) => {
      const problems = await validateTestsetLayout(dir);
      if (problems.length === 0) {
        io.stdout(`${dir}: valid test set\n`);
        return;
      }
      io.stdout(`${problems.map((p) => `${dir}: ${p}`).join("\n")}\n`);
      io.stderr(`${dir}: ${problems.length} problem${problems.length === 1 ? "" : "s"}\n`);
      process.exitCode = 1;
    });

  return testset;
}
