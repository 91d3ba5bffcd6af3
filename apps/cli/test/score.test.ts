/** `holdout score` end to end on files it reads from disk: the `--json` output and its exit codes. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TASKS } from "@holdout/scorer";
import { scoreCommand } from "../src/commands/score.ts";

const N = 120;
const studies = Array.from({ length: N }, (_, i) => `CheXpert-v1.0/test/patient${10000 + i}/study1`);
// Deterministic labels (~1/3 positive, shifted per task) and a model with signal plus grid noise.
const label = (i: number, t: number) => ((i * 7 + t * 3) % 3 === 0 ? 1 : 0);
const score = (i: number, t: number) => (((i * 37 + t * 11) % 100) / 100 + 0.6 * label(i, t)).toFixed(2);

function csv(value: (i: number, t: number) => string | number): string {
  const rows = studies.map((study, i) => [study, ...TASKS.map((_, t) => value(i, t))].join(","));
  return [["Study", ...TASKS].join(","), ...rows].join("\n") + "\n";
}

let dir: string;
let files: { groundtruth: string; reader: string; predictions: string };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "holdout-score-"));
  files = {
    groundtruth: join(dir, "groundtruth.csv"),
    reader: join(dir, "rad1.csv"),
    predictions: join(dir, "predictions.csv"),
  };
  await writeFile(files.groundtruth, csv(label));
  await writeFile(
    files.reader,
    csv((i, t) => (i % 5 === 0 ? 1 - label(i, t) : label(i, t))),
  );
  await writeFile(files.predictions, csv(score));
});

afterEach(async () => {
  process.exitCode = undefined; // the command sets it; it must not fail the test run
  await rm(dir, { recursive: true, force: true });
});

async function run(...extra: string[]) {
  const out = { stdout: "", stderr: "" };
  const io = { stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t) };
  const base = [
    "--groundtruth",
    files.groundtruth,
    "--readers",
    files.reader,
    "--predictions",
    files.predictions,
  ];
  await scoreCommand(io).parseAsync([...base, ...extra], { from: "user" });
  return { ...out, exitCode: process.exitCode };
}

interface ContractJson {
  meanAuc: number;
  tasks: { task: string; auc: number; auc95: [number, number] | null }[];
  meanAuc95: [number, number] | null;
}

describe("holdout score --bootstrap", () => {
  it("fills auc95 and meanAuc95 around the point estimates, reproducibly for a seed", async () => {
    const first = await run("--bootstrap", "300", "--seed", "11", "--json");
    expect(first.exitCode).toBeUndefined();
    const json = JSON.parse(first.stdout) as ContractJson;
    expect(json.tasks.map((t) => t.task)).toEqual([...TASKS]);
    for (const t of json.tasks) {
      expect(t.auc95).not.toBeNull();
      const [lo, hi] = t.auc95!;
      expect(lo).toBeLessThanOrEqual(t.auc);
      expect(hi).toBeGreaterThanOrEqual(t.auc);
      expect(hi).toBeGreaterThan(lo);
    }
    expect(json.meanAuc95![0]).toBeLessThan(json.meanAuc);
    expect(json.meanAuc95![1]).toBeGreaterThan(json.meanAuc);
    expect((await run("--bootstrap", "300", "--seed", "11", "--json")).stdout).toBe(first.stdout);
  });

  it("leaves the intervals null without --bootstrap", async () => {
    const json = JSON.parse((await run("--json")).stdout) as ContractJson;
    expect(json.meanAuc95).toBeNull();
    expect(json.tasks.every((t) => t.auc95 === null)).toBe(true);
  });

  it("shows the intervals in the table", async () => {
    const { stdout } = await run("--bootstrap", "100", "--seed", "1");
    expect(stdout).toMatch(/^Task\s+AUC\s+95% CI/);
    expect(stdout).toMatch(/\nMean\s+\d\.\d+\s+\d\.\d+-\d\.\d+ /);
    expect(stdout).toContain("percentile bootstrap over studies, 100 replicates");
  });

  it.each([
    [["--bootstrap", "0", "--seed", "1"], '--bootstrap must be an integer from 1 to 100000, got "0"'],
    [["--bootstrap", "100001", "--seed", "1"], "--bootstrap must be an integer from 1 to 100000"],
    [["--bootstrap", "1e3", "--seed", "1"], '--bootstrap must be an integer from 1 to 100000, got "1e3"'],
    [["--bootstrap", "10", "--seed", "4294967296"], "--seed must be an integer from 0 to 4294967295"],
    [["--bootstrap", "10", "--seed", "x"], '--seed must be an integer from 0 to 4294967295, got "x"'],
    [["--bootstrap", "10"], "--bootstrap needs --seed S"],
    [["--seed", "3"], "--seed only applies with --bootstrap N"],
  ])("exits 2 with one line for %j", async (args, message) => {
    const result = await run(...args, "--json");
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(message);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});
