/**
 * The real-world check: the official leaderboard's numbers for 6 models, reproduced from the CheXpert
 * test-set labels. The files are under a research-use agreement and are NEVER copied into this repo:
 * they are read from the folder $HOLDOUT_CHEXPERT_LABELS names (by default a fixtures folder beside
 * the checkout), and the suite is skipped where that folder is absent.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import {
  alignLabels,
  parseLabelsCsv,
  parsePredictionsCsv,
  scoreTasks,
  type ReaderReads,
} from "@holdout/scorer";

const repoRoot = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");
const fixtureDir =
  process.env.HOLDOUT_CHEXPERT_LABELS ?? resolve(repoRoot, "../shared/fixtures/chexpert-test-labels");
const present = existsSync(join(fixtureDir, "expected-scores.json"));
// The README there: Rad1 = bc4, Rad2 = bc6, Rad3 = bc8 (their columns come in another order).
const READERS = ["bc4", "bc6", "bc8"];

interface Expected {
  tasks: { task: string; auc: number; radsBelowCurve: number }[];
  meanAuc: number;
  meanRadsBelowCurve: number;
}

const read = (...parts: string[]) => readFileSync(join(fixtureDir, ...parts), "utf8");
const models = present
  ? readdirSync(join(fixtureDir, "predictions"))
      .filter((name) => name.endsWith(".csv"))
      .map((name) => name.slice(0, -".csv".length))
      .sort()
  : [];

describe.skipIf(!present)(
  present
    ? "official metric on the CheXpert test-set labels"
    : `CheXpert fixture: SKIPPED, folder absent (${fixtureDir})`,
  () => {
    let expected: Record<string, Expected>;
    let studies: string[];
    let truth: ReturnType<typeof parseLabelsCsv>["labels"];
    let readers: ReaderReads[];

    beforeAll(() => {
      expected = JSON.parse(read("expected-scores.json")) as Record<string, Expected>;
      const groundtruth = parseLabelsCsv(read("groundtruth.csv"), "groundtruth.csv");
      studies = groundtruth.studies;
      truth = groundtruth.labels;
      readers = READERS.map((id) => ({
        id,
        reads: alignLabels(parseLabelsCsv(read("readers", `${id}.csv`), `${id}.csv`), studies, `${id}.csv`),
      }));
    });

    it("has expected scores for exactly the models with predictions", () => {
      expect(models.length).toBeGreaterThan(0);
      expect(Object.keys(expected).sort()).toEqual(models);
    });

    it.each(models)("%s: per-task AUCs within 1e-9, radiologist counts and means equal", (model) => {
      const predictions = parsePredictionsCsv(read("predictions", `${model}.csv`), studies, `${model}.csv`);
      const result = scoreTasks({ truth, predictions, readers });
      const want = expected[model]!;
      expect(result.tasks.map((t) => t.task)).toEqual(want.tasks.map((t) => t.task));
      result.tasks.forEach((t, i) => {
        expect(Math.abs(t.auc - want.tasks[i]!.auc), `${model} ${t.task} AUC`).toBeLessThanOrEqual(1e-9);
        expect(t.radsBelowCurve, `${model} ${t.task} radiologists below the curve`).toBe(
          want.tasks[i]!.radsBelowCurve,
        );
      });
      expect(Math.abs(result.meanAuc - want.meanAuc)).toBeLessThanOrEqual(1e-9);
      expect(result.meanRadsBelowCurve).toBe(want.meanRadsBelowCurve);
    });
  },
);
