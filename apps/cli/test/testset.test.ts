import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { testsetCommand, type TestsetIo } from "../src/commands/testset.ts";

/** Runs `holdout testset <args>` in-process, capturing what a terminal would show. */
async function run(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  const out = { stdout: "", stderr: "", code: 0 };
  const io: TestsetIo = {
    stdout: (t) => void (out.stdout += t),
    stderr: (t) => void (out.stderr += t),
    exitCode: (c) => void (out.code = c),
  };
  await testsetCommand(io).parseAsync(args, { from: "user" });
  return out;
}

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "holdout-cli-testset-"));
});
afterEach(() => rm(work, { recursive: true, force: true }));

describe("holdout testset", () => {
  it("generates a development set and validates it with a summary table", async () => {
    const dir = join(work, "dev");
    const gen = await run("generate", "--dev", "--studies", "12", "--long-side", "64", "--out", dir);
    expect(gen.code).toBe(0);
    expect(gen.stdout).toMatch(/\(seed 2\): 12 studies/);

    const check = await run("validate", dir);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/^studies: 12 {3}images: \d+/);
    expect(check.stdout).toMatch(/^Consolidation +1 +8\.3% +\d\.\d\d \/ \d\.\d\d/m);
    expect(check.stdout).toContain("Radiologist 3 sens/spec");
    expect(check.stdout).toContain(`${dir}: valid test set`);
  });

  it("generates a mean-auc set with --scorer: its own label columns, no readers", async () => {
    const dir = join(work, "triage");
    const gen = await run(
      "generate",
      "--scorer",
      "mean-auc",
      "--studies",
      "12",
      "--long-side",
      "64",
      "--out",
      dir,
    );
    expect(gen.code).toBe(0);
    expect(gen.stdout).toMatch(/\(mean-auc, seed 1\): 12 studies/);
    expect(gen.stdout).not.toContain("benchmark readers");
    const check = await run("validate", dir);
    expect(check.code).toBe(0);
    expect(check.stdout).not.toContain("Atelectasis");

    const bad = await run("generate", "--scorer", "f1", "--out", join(work, "bad"));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/scorer must be one of chexpert, mean-auc, got f1/);
  });

  it("exits 1 and lists every reason when the test set is broken", async () => {
    const dir = join(work, "broken");
    await run("generate", "--studies", "6", "--long-side", "64", "--out", dir);
    await chmod(join(dir, "private"), 0o755);
    await writeFile(join(dir, "public", "edema_cases.txt"), "");
    const check = await run("validate", dir);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(`${dir}: private/ is accessible to other users (mode 0755)`);
    expect(check.stdout).toContain(`${dir}: public/edema_cases.txt: name reveals a label ("edema")`);
    expect(check.stderr).toBe(`${dir}: 3 problems\n`);
  });

  it("exits 2 with one line when import-chexpert cannot find its input", async () => {
    const result = await run(
      "import-chexpert",
      "--images",
      join(work, "nowhere"),
      "--groundtruth",
      join(work, "missing.csv"),
      "--readers",
      join(work, "r1.csv"),
      "--out",
      join(work, "out"),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `holdout testset import-chexpert: cannot read ${join(work, "missing.csv")} as CSV\n`,
    );
  });
});
