import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  generateTestset,
  loadPrivateLabels,
  publicDir,
  readTestsetManifest,
  studyOfImage,
  TestsetError,
  validateTestsetLayout,
} from "../src/index.ts";
import { parseRows, tempDir } from "./helpers.ts";

// Each test gets its own small test set, so breaking one cannot affect another.
let dir: { path: string; remove: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir("layout");
  await generateTestset({ outDir: dir.path, studies: 6, longSide: 64, seed: 11 });
});
afterEach(() => dir.remove());

const file = (...parts: string[]) => join(dir.path, ...parts);

describe("readTestsetManifest / loadPrivateLabels / publicDir", () => {
  it("returns the manifest, the ground truth and each reader's CSV text", async () => {
    const manifest = await readTestsetManifest(dir.path);
    expect(manifest).toMatchObject({ name: "synthetic-chexpert-11", version: "1" });
    const labels = await loadPrivateLabels(dir.path);
    expect(labels.manifest).toEqual(manifest);
    expect(parseRows(labels.groundtruthCsv).map((r) => r.Study)).toEqual(
      Array.from({ length: 6 }, (_, i) => `CheXpert-v1.0/test/patient${64741 + i}/study1`),
    );
    expect(labels.readers.map((r) => [r.id, r.label])).toEqual([
      ["rad1", "Radiologist 1"],
      ["rad2", "Radiologist 2"],
      ["rad3", "Radiologist 3"],
    ]);
    expect(labels.readers[1]!.csv).toBe(await readFile(file("private", "readers", "rad2.csv"), "utf8"));
    expect(publicDir(dir.path)).toBe(file("public"));
  });

  it("rejects a manifest that points a reader file outside private/", async () => {
    const manifest = JSON.parse(await readFile(file("testset.json"), "utf8")) as {
      readers: { file: string }[];
    };
    manifest.readers[0]!.file = "../../etc/passwd";
    await writeFile(file("testset.json"), JSON.stringify(manifest));
    await expect(readTestsetManifest(dir.path)).rejects.toThrow(TestsetError);
    await expect(loadPrivateLabels(dir.path)).rejects.toThrow(/under private/);
    expect(await validateTestsetLayout(dir.path)).toEqual([
      "testset.json: readers[0].file must be a relative path under private/, got ../../etc/passwd",
    ]);
  });

  it("names the missing file when a label file is gone", async () => {
    await rm(file("private", "readers", "rad3.csv"));
    await expect(loadPrivateLabels(dir.path)).rejects.toThrow(/rad3\.csv/);
  });
});

describe("validateTestsetLayout", () => {
  it("accepts a generated test set", async () => {
    expect(await validateTestsetLayout(dir.path)).toEqual([]);
  });

  it("reports images that are listed but absent", async () => {
    const missing = "CheXpert-v1.0/test/patient64743/study1/view1_frontal.jpg";
    await rm(join(publicDir(dir.path), missing));
    expect(await validateTestsetLayout(dir.path)).toEqual([`image listed but absent: ${missing}`]);
  });

  it("reports studies that are in the image list but not labelled, and labelled studies without images", async () => {
    const truth = await readFile(file("private", "groundtruth.csv"), "utf8");
    const lines = truth.trimEnd().split("\n");
    const dropped = lines.splice(2, 1)[0]!.split(",")[0];
    lines.push(`CheXpert-v1.0/test/patient99999/study1${",0".repeat(14)}`);
    await writeFile(file("private", "groundtruth.csv"), `${lines.join("\n")}\n`);
    expect(await validateTestsetLayout(dir.path)).toEqual([
      `private/groundtruth.csv: study in the image list but not labelled: ${dropped}`,
      "private/groundtruth.csv: labelled study with no image: CheXpert-v1.0/test/patient99999/study1",
    ]);
  });

  it("reports non-binary labels and a wrong image-list header", async () => {
    const reader = file("private", "readers", "rad1.csv");
    await writeFile(reader, (await readFile(reader, "utf8")).replace(/,1,/, ",0.7,"));
    await writeFile(file("public", "test_image_paths.csv"), "Image\nx.jpg\n");
    const problems = await validateTestsetLayout(dir.path);
    expect(problems).toContain("public/test_image_paths.csv: header must be `Path`");
    expect(problems.some((p) => /rad1\.csv: row \d+: `.+` must be 0 or 1, got "0.7"/.test(p))).toBe(true);
  });

  it("lists every missing top-level file of an empty directory", async () => {
    const empty = await tempDir("empty");
    try {
      expect(await validateTestsetLayout(empty.path)).toEqual([
        "missing testset.json",
        "missing public/test_image_paths.csv",
        "missing private/groundtruth.csv",
      ]);
    } finally {
      await empty.remove();
    }
  });
});

describe("studyOfImage", () => {
  it("strips the view file name, as the test-set layout defines the study id", () => {
    expect(studyOfImage("CheXpert-v1.0/test/patient64741/study1/view2_lateral.jpg")).toBe(
      "CheXpert-v1.0/test/patient64741/study1",
    );
    expect(studyOfImage("CheXpert-v1.0/test/patient64741/study1/image.png")).toBeUndefined();
  });
});
