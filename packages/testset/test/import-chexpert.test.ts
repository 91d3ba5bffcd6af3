import { existsSync } from "node:fs";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TASKS } from "@holdout/scorer";
import {
  BENCHMARK_READERS,
  encodeGrayJpeg,
  importChexpert,
  OBSERVATIONS,
  readTestsetManifest,
  TestsetError,
  type ImportResult,
} from "../src/index.ts";
import { parseRows, tempDir } from "./helpers.ts";

// The released CheXpert test labels are never copied into the repository (research-use terms): they
// are read where the organizer keeps them, and these tests are skipped where they are absent.
const REPO_ROOT = resolve(import.meta.dirname, "../../..");
const LABELS =
  process.env.HOLDOUT_CHEXPERT_LABELS ?? resolve(REPO_ROOT, "../shared/fixtures/chexpert-test-labels");
const present = existsSync(join(LABELS, "groundtruth.csv"));
if (!present) {
  console.warn(
    `skipping import-chexpert tests: no CheXpert labels at ${LABELS} (set HOLDOUT_CHEXPERT_LABELS)`,
  );
}
const readerFiles = ["bc4", "bc6", "bc8"].map((id) => join(LABELS, "readers", `${id}.csv`));

describe.skipIf(!present)("importChexpert with the released labels", () => {
  let work: { path: string; remove: () => Promise<void> };
  let studies: string[];
  let result: ImportResult;
  const images = () => join(work.path, "download");
  const out = () => join(work.path, "testset");

  beforeAll(async () => {
    work = await tempDir("import");
    const truth = parseRows(await readFile(join(LABELS, "groundtruth.csv"), "utf8"));
    studies = truth.map((r) => r.Study ?? "");
    // Tiny stand-ins for the AIMI download: one frontal view per study, at the released paths.
    const jpeg = encodeGrayJpeg(new Uint8Array(16 * 16).fill(90), 16, 16);
    for (const s of studies) {
      await mkdir(join(images(), s), { recursive: true });
      await writeFile(join(images(), s, "view1_frontal.jpg"), jpeg);
    }
    result = await importChexpert({
      imagesDir: images(),
      groundtruth: join(LABELS, "groundtruth.csv"),
      readers: readerFiles,
      outDir: out(),
    });
  });
  afterAll(() => work.remove());

  it("writes a valid test set with hard-linked images and a closed private/", async () => {
    expect(result.report.problems).toEqual([]);
    expect(result).toMatchObject({ studies: 500, images: 500, linked: 500, copied: 0 });
    const list = parseRows(await readFile(join(out(), "public", "test_image_paths.csv"), "utf8"));
    expect(list[0]).toEqual({ Path: `${studies[0]}/view1_frontal.jpg` });
    expect((await stat(join(out(), "private"))).mode & 0o777).toBe(0o700);
    const manifest = await readTestsetManifest(out());
    expect(manifest.tasks).toEqual([...TASKS]);
    expect(manifest.readers).toEqual([
      { id: "bc4", label: "Radiologist 1", file: "private/readers/bc4.csv" },
      { id: "bc6", label: "Radiologist 2", file: "private/readers/bc6.csv" },
      { id: "bc8", label: "Radiologist 3", file: "private/readers/bc8.csv" },
    ]);
  });

  it("rewrites reader files in the ground truth's column order, keeping every value", async () => {
    const source = parseRows(await readFile(readerFiles[0]!, "utf8"));
    const written = await readFile(join(out(), "private", "readers", "bc4.csv"), "utf8");
    expect(written.split("\n")[0]).toBe(["Study", ...OBSERVATIONS].join(","));
    const rows = parseRows(written);
    expect(rows.map((r) => r.Study)).toEqual(studies);
    const byStudy = new Map(source.map((r) => [r.Study, r]));
    for (const row of rows) {
      for (const o of OBSERVATIONS) expect(Number(row[o])).toBe(Number(byStudy.get(row.Study)?.[o]));
    }
  });

  it("reproduces the radiologists' operating points the generator targets (to 2 decimals)", () => {
    const points = result.report.summary.readers;
    BENCHMARK_READERS.forEach((reader, i) => {
      for (const task of TASKS) {
        const p = points.find((x) => x.label === `Radiologist ${i + 1}` && x.task === task);
        expect(p?.sensitivity.toFixed(2), `${reader.label} ${task}`).toBe(
          reader.points[task].sensitivity.toFixed(2),
        );
        expect(p?.specificity.toFixed(2), `${reader.label} ${task}`).toBe(
          reader.points[task].specificity.toFixed(2),
        );
      }
    });
    expect(result.report.summary.prevalence.map((p) => p.positives)).toEqual([153, 151, 29, 78, 104]);
  });

  it("names the studies whose images are missing, before writing anything", async () => {
    await rm(join(images(), studies[3]!, "view1_frontal.jpg"));
    const target = join(work.path, "second");
    const attempt = importChexpert({
      imagesDir: join(images(), "CheXpert-v1.0"),
      groundtruth: join(LABELS, "groundtruth.csv"),
      readers: readerFiles,
      outDir: target,
    });
    await expect(attempt).rejects.toThrow(TestsetError);
    await expect(attempt).rejects.toThrow(`1 labelled studies have no view*.jpg`);
    await expect(attempt).rejects.toThrow(studies[3]!);
    expect(existsSync(target)).toBe(false);
  });
});
