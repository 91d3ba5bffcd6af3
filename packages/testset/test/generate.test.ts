import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TASKS } from "@holdout/scorer";
import {
  BENCHMARK_READERS,
  generateTestset,
  OBSERVATIONS,
  TestsetError,
  validateTestsetLayout,
  type GeneratedSummary,
} from "../src/index.ts";
import { fileHashes, jpegFrame, parseRows, tempDir } from "./helpers.ts";

describe("generateTestset: determinism", () => {
  const dirs: { remove: () => Promise<void> }[] = [];
  afterAll(async () => {
    for (const d of dirs) await d.remove();
  });

  async function generate(seed: number): Promise<Map<string, string>> {
    const dir = await tempDir(`seed${seed}`);
    dirs.push(dir);
    await generateTestset({ outDir: dir.path, seed, studies: 24, longSide: 96 });
    return fileHashes(dir.path);
  }

  it("writes byte-identical files for the same seed, and different images for another seed", async () => {
    const a = await generate(7);
    const b = await generate(7);
    const c = await generate(8);
    expect(a.size).toBeGreaterThan(24 + 5);
    expect([...b.entries()]).toEqual([...a.entries()]);
    // Same layout (same study ids), but the images and labels differ.
    const changed = [...a.keys()].filter((f) => c.get(f) !== a.get(f));
    expect(changed.filter((f) => f.endsWith(".jpg")).length).toBeGreaterThan(20);
    expect(changed).toContain(join("private", "groundtruth.csv"));
  });

  it("refuses a non-empty output directory and out-of-range options", async () => {
    const dir = await tempDir("reuse");
    dirs.push(dir);
    await generateTestset({ outDir: dir.path, studies: 2, longSide: 64 });
    await expect(generateTestset({ outDir: dir.path, studies: 2 })).rejects.toThrow(TestsetError);
    await expect(generateTestset({ outDir: join(dir.path, "x"), studies: 0 })).rejects.toThrow(/studies/);
    await expect(generateTestset({ outDir: join(dir.path, "y"), longSide: 10 })).rejects.toThrow(/longSide/);
    await expect(generateTestset({ outDir: join(dir.path, "z"), seed: -1 })).rejects.toThrow(/seed/);
  });
});

describe("generateTestset: the default 500-study set", () => {
  let dir: { path: string; remove: () => Promise<void> };
  let summary: GeneratedSummary;
  // Counts and labels do not depend on the image size: a small long side keeps this test quick.
  beforeAll(async () => {
    dir = await tempDir("default");
    summary = await generateTestset({ outDir: dir.path, longSide: 96 });
  });
  afterAll(() => dir.remove());

  it("is a valid test-set layout with a private directory only its owner can enter", async () => {
    expect(await validateTestsetLayout(dir.path)).toEqual([]);
    expect((await stat(join(dir.path, "private"))).mode & 0o777).toBe(0o700);
    const manifest = JSON.parse(await readFile(join(dir.path, "testset.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(manifest.tasks).toEqual([...TASKS]);
    expect(manifest.readers).toEqual([
      { id: "rad1", label: "Radiologist 1", file: "private/readers/rad1.csv" },
      { id: "rad2", label: "Radiologist 2", file: "private/readers/rad2.csv" },
      { id: "rad3", label: "Radiologist 3", file: "private/readers/rad3.csv" },
    ]);
  });

  it("has 500 studies and 668 images, mostly single frontal views", async () => {
    const paths = parseRows(await readFile(join(dir.path, "public", "test_image_paths.csv"), "utf8"));
    expect(paths).toHaveLength(668);
    expect(summary).toMatchObject({ studies: 500, images: 668 });
    expect(paths[0]).toEqual({ Path: "CheXpert-v1.0/test/patient64741/study1/view1_frontal.jpg" });
    const perStudy = new Map<string, number>();
    for (const { Path } of paths) {
      const study = Path!.replace(/\/view[^/]*$/, "");
      perStudy.set(study, (perStudy.get(study) ?? 0) + 1);
    }
    expect(perStudy.size).toBe(500);
    const counts = [...perStudy.values()];
    expect(counts.filter((n) => n === 1).length).toBeGreaterThan(300);
    expect(counts.filter((n) => n === 3).length).toBeGreaterThan(0);
    expect(Math.max(...counts)).toBe(3);
  });

  it("has CheXpert's ground-truth prevalences: exactly for the 5 tasks, roughly for the rest", async () => {
    const rows = parseRows(await readFile(join(dir.path, "private", "groundtruth.csv"), "utf8"));
    expect(rows).toHaveLength(500);
    expect(Object.keys(rows[0]!)).toEqual(["Study", ...OBSERVATIONS]);
    for (const row of rows) for (const o of OBSERVATIONS) expect(["0", "1"]).toContain(row[o]);
    // Targets: positives per 500 on the real CheXpert test set.
    const targets = {
      Atelectasis: 153,
      Cardiomegaly: 151,
      Consolidation: 29,
      Edema: 78,
      "Pleural Effusion": 104,
    };
    for (const [task, target] of Object.entries(targets)) {
      expect(rows.filter((r) => r[task] === "1").length, task).toBe(target);
      expect(summary.positives[task as keyof typeof targets]).toBe(target);
    }
    const noFinding = rows.filter((r) => r["No Finding"] === "1").length;
    expect(noFinding).toBeGreaterThan(30);
    expect(noFinding).toBeLessThan(110);
  });

  it("has three benchmark readers within 0.03 of the CheXpert radiologists' operating points", async () => {
    const truth = parseRows(await readFile(join(dir.path, "private", "groundtruth.csv"), "utf8"));
    for (const id of ["rad1", "rad2", "rad3"]) {
      const reads = parseRows(await readFile(join(dir.path, "private", "readers", `${id}.csv`), "utf8"));
      expect(reads.map((r) => r.Study)).toEqual(truth.map((r) => r.Study));
      for (const task of TASKS) {
        let tp = 0;
        let fn = 0;
        let tn = 0;
        let fp = 0;
        truth.forEach((t, i) => {
          const call = reads[i]![task] === "1";
          if (t[task] === "1") {
            if (call) tp++;
            else fn++;
          } else if (call) fp++;
          else tn++;
        });
        const target = BENCHMARK_READERS.find((r) => r.id === id)!.points[task];
        expect(Math.abs(tp / (tp + fn) - target.sensitivity), `${id} ${task} sens`).toBeLessThanOrEqual(0.03);
        expect(Math.abs(tn / (tn + fp) - target.specificity), `${id} ${task} spec`).toBeLessThanOrEqual(0.03);
      }
    }
  });
});

describe("generateTestset: development set", () => {
  it("writes the same layout under CheXpert-v1.0/valid/ with its own default seed and name", async () => {
    const dir = await tempDir("dev");
    try {
      const summary = await generateTestset({ outDir: dir.path, kind: "dev", studies: 30, longSide: 64 });
      expect(summary.seed).toBe(2);
      expect(await validateTestsetLayout(dir.path)).toEqual([]);
      const manifest = JSON.parse(await readFile(join(dir.path, "testset.json"), "utf8")) as {
        name: string;
        description: string;
      };
      expect(manifest.name).toBe("synthetic-chexpert-dev-2");
      expect(manifest.description).toMatch(/labels are public/);
      const paths = parseRows(await readFile(join(dir.path, "public", "test_image_paths.csv"), "utf8"));
      expect(paths[0]).toEqual({ Path: "CheXpert-v1.0/valid/patient64541/study1/view1_frontal.jpg" });
    } finally {
      await dir.remove();
    }
  });
});

describe("generateTestset: images", () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeAll(async () => {
    dir = await tempDir("images");
    await generateTestset({ outDir: dir.path, studies: 12, seed: 3 });
  });
  afterAll(() => dir.remove());

  it("writes single-channel JPEGs of the requested long side that decode to a radiograph-like picture", async () => {
    const paths = parseRows(await readFile(join(dir.path, "public", "test_image_paths.csv"), "utf8"));
    for (const { Path } of paths) {
      const bytes = await readFile(join(dir.path, "public", Path!));
      const frame = jpegFrame(bytes);
      expect(frame.components).toBe(1);
      expect(frame.height).toBe(320);
      expect(frame.width).toBeGreaterThanOrEqual(256);
      expect(frame.width).toBeLessThanOrEqual(320);
      const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
      expect([image.width, image.height]).toEqual([frame.width, frame.height]);
      // Dark air around the body, bright bone and abdomen: a wide range of grey levels.
      const grey = Array.from({ length: image.width * image.height }, (_, i) => image.data[i * 3]!);
      grey.sort((a, b) => a - b);
      const at = (q: number) => grey[Math.floor(q * (grey.length - 1))]!;
      expect(at(0.05)).toBeLessThan(60);
      expect(at(0.95) - at(0.05)).toBeGreaterThan(80);
    }
  });
});
