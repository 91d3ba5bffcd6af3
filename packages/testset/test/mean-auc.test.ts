import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scorerFor, TASKS } from "@holdout/scorer";
import {
  generateTestset,
  inspectTestset,
  loadPrivateLabels,
  parseManifest,
  readTestsetManifest,
  TestsetError,
  TRIAGE_COLUMNS,
  validateTestsetLayout,
  type GeneratedSummary,
} from "../src/index.ts";
import { fileHashes, parseRows, tempDir } from "./helpers.ts";

const COLUMNS = Object.keys(TRIAGE_COLUMNS);
const chexpertReaders = [{ id: "rad1", label: "Radiologist 1", file: "private/readers/rad1.csv" }];

describe("parseManifest: the scorer and its tasks", () => {
  const base = { name: "set", version: "1", tasks: [...TASKS], readers: chexpertReaders };

  it("reads a manifest without `scorer` as a CheXpert set, as sets made before the choice were", () => {
    expect(parseManifest(base)).toEqual({ ...base, scorer: "chexpert" });
    expect(parseManifest({ ...base, scorer: "chexpert", tasks: [...TASKS].reverse() })).toMatchObject({
      scorer: "chexpert",
    });
  });

  it("reads a mean-auc manifest with its own columns and no readers", () => {
    const manifest = { name: "triage", version: 2, scorer: "mean-auc", tasks: ["Nodule", "Mass"] };
    expect(parseManifest(manifest)).toEqual({ ...manifest, version: "2", readers: [] });
  });

  it("names an unknown scorer", () => {
    expect(parseManifest({ ...base, scorer: "auc" })).toEqual([
      'testset.json: `scorer` must be one of chexpert, mean-auc, got "auc"',
    ]);
  });

  it("refuses chexpert over columns that are not the five CheXpert tasks", () => {
    expect(parseManifest({ ...base, tasks: ["Atelectasis", "Nodule"] })).toEqual([
      "testset.json: `tasks` must be the five CheXpert tasks (Atelectasis, Cardiomegaly, Consolidation, " +
        'Edema, Pleural Effusion) for scorer chexpert; missing "Cardiomegaly", "Consolidation", "Edema", ' +
        '"Pleural Effusion"; not CheXpert tasks: "Nodule" (scorer mean-auc scores other columns)',
    ]);
  });

  it("refuses readers and column names a CSV header cannot hold for mean-auc, naming each entry", () => {
    expect(parseManifest({ ...base, scorer: "mean-auc", tasks: ["Nodule", "Study", "Mass "] })).toEqual([
      'testset.json: tasks[1] "Study" is the name of the study column',
      'testset.json: tasks[2] "Mass " has spaces around it (headers must match exactly)',
      "testset.json: `readers` must be empty for scorer mean-auc (it compares no readers)",
    ]);
  });
});

describe("generateTestset: a mean-auc (triage) set", () => {
  let dir: { path: string; remove: () => Promise<void> };
  let summary: GeneratedSummary;
  const file = (...parts: string[]) => join(dir.path, ...parts);
  beforeAll(async () => {
    dir = await tempDir("triage");
    summary = await generateTestset({
      outDir: dir.path,
      scorer: "mean-auc",
      studies: 12,
      longSide: 64,
      seed: 5,
    });
  });
  afterAll(() => dir.remove());

  it("is valid, names its scorer and columns, and has no readers", async () => {
    const report = await inspectTestset(dir.path);
    expect(report.problems).toEqual([]);
    expect(await readTestsetManifest(dir.path)).toMatchObject({
      name: "synthetic-triage-5",
      scorer: "mean-auc",
      tasks: COLUMNS,
      readers: [],
    });
    expect(report.summary.prevalence.map((p) => p.task)).toEqual(COLUMNS);
    expect(report.summary.readers).toEqual([]);
    expect(existsSync(file("private", "readers"))).toBe(false);
  });

  it("labels exactly its columns, each with positives and negatives, as the summary counts them", async () => {
    const truth = await readFile(file("private", "groundtruth.csv"), "utf8");
    expect(truth.split("\n")[0]).toBe(["Study", ...COLUMNS].join(","));
    const rows = parseRows(truth);
    expect(rows[0]?.Study).toBe("Triage-v1/test/patient64741/study1");
    expect(summary).toMatchObject({ scorer: "mean-auc", studies: 12, readers: [] });
    for (const column of COLUMNS) {
      const positives = rows.filter((r) => r[column] === "1").length;
      expect(summary.positives[column]).toBe(positives);
      expect(positives).toBeGreaterThan(0);
      expect(positives).toBeLessThan(12);
    }
  });

  it("scores end to end with the scorer its manifest names", async () => {
    const labels = await loadPrivateLabels(dir.path);
    const scorer = scorerFor(labels.manifest);
    const truth = scorer.parseLabels(labels.groundtruthCsv, "private/groundtruth.csv");
    // A model that ranks every column perfectly, in another column order with an extra column.
    const header = ["Note", ...[...COLUMNS].reverse(), "Study"];
    const lines = truth.studies.map((study, s) =>
      ["x", ...[...COLUMNS].reverse().map((c) => String(truth.labels[c]![s]! + s / 100)), study].join(","),
    );
    const predictions = scorer.parsePredictions([header.join(","), ...lines].join("\n"), truth.studies);
    const result = scorer.score({ truth: truth.labels, predictions, readers: [] });
    expect(result.tasks.map((t) => [t.task, t.auc])).toEqual(COLUMNS.map((c) => [c, 1]));
    expect(result.score).toBe(result.meanAuc);
  });

  it("is byte-identical for a seed, and shares no image with the CheXpert set of that seed", async () => {
    const again = await tempDir("triage-again");
    const chexpert = await tempDir("triage-chexpert");
    try {
      await generateTestset({ outDir: again.path, scorer: "mean-auc", studies: 12, longSide: 64, seed: 5 });
      await generateTestset({ outDir: chexpert.path, studies: 12, longSide: 64, seed: 5 });
      const mine = await fileHashes(dir.path);
      expect([...(await fileHashes(again.path)).entries()]).toEqual([...mine.entries()]);
      const theirs = new Set((await fileHashes(chexpert.path)).values());
      const images = [...mine.entries()].filter(([f]) => f.endsWith(".jpg"));
      expect(images.length).toBeGreaterThan(12);
      expect(images.filter(([, hash]) => theirs.has(hash))).toEqual([]);
    } finally {
      await again.remove();
      await chexpert.remove();
    }
  });

  it("writes a development set under valid/ with its own name", async () => {
    const dev = await tempDir("triage-dev");
    try {
      await generateTestset({ outDir: dev.path, scorer: "mean-auc", kind: "dev", studies: 4, longSide: 64 });
      expect(await readTestsetManifest(dev.path)).toMatchObject({ name: "synthetic-triage-dev-2" });
      expect(parseRows(await readFile(join(dev.path, "private", "groundtruth.csv"), "utf8"))[0]?.Study).toBe(
        "Triage-v1/valid/patient64541/study1",
      );
      expect(await validateTestsetLayout(dev.path)).toEqual([]);
    } finally {
      await dev.remove();
    }
  });

  it("refuses an unknown scorer before writing anything", async () => {
    const out = join(dir.path, "never");
    await expect(
      generateTestset({ outDir: out, scorer: "auc" as "mean-auc", studies: 2, longSide: 64 }),
    ).rejects.toThrow(new TestsetError("scorer must be one of chexpert, mean-auc, got auc"));
    expect(existsSync(out)).toBe(false);
  });
});

describe("validateTestsetLayout: a mean-auc set", () => {
  let dir: { path: string; remove: () => Promise<void> };
  const file = (...parts: string[]) => join(dir.path, ...parts);
  beforeAll(async () => {
    dir = await tempDir("triage-validate");
  });
  afterAll(() => dir.remove());

  async function fresh(name: string): Promise<string> {
    const out = file(name);
    await generateTestset({ outDir: out, scorer: "mean-auc", studies: 6, longSide: 64, seed: 3 });
    return out;
  }

  it("names a missing column and a label that is not 0/1, with file and row", async () => {
    const out = await fresh("labels");
    const truth = join(out, "private", "groundtruth.csv");
    const lines = (await readFile(truth, "utf8")).split("\n");
    lines[0] = lines[0]!.replace("Large Heart", "Big Heart");
    lines[2] = lines[2]!.replace(/,[01]$/, ",yes");
    await writeFile(truth, lines.join("\n"));
    expect(await validateTestsetLayout(out)).toEqual([
      "private/groundtruth.csv: missing column `Large Heart`",
    ]);
    lines[0] = lines[0].replace("Big Heart", "Large Heart");
    await writeFile(truth, lines.join("\n"));
    expect(await validateTestsetLayout(out)).toEqual([
      'private/groundtruth.csv: row 3: `Pleural Fluid` must be 0 or 1, got "yes"',
    ]);
  });

  it("reports a public name that spells one of its columns", async () => {
    const out = await fresh("leak");
    await mkdir(join(out, "public", "pleural-fluid"));
    expect(await validateTestsetLayout(out)).toEqual([
      'public/pleural-fluid: name reveals a label ("pleuralfluid")',
    ]);
  });

  it("keeps an old CheXpert manifest without `scorer` valid", async () => {
    const out = file("old-chexpert");
    await generateTestset({ outDir: out, studies: 4, longSide: 64, seed: 3 });
    const manifest = JSON.parse(await readFile(join(out, "testset.json"), "utf8")) as Record<string, unknown>;
    expect(manifest.scorer).toBe("chexpert");
    delete manifest.scorer;
    await writeFile(join(out, "testset.json"), JSON.stringify(manifest));
    expect(await validateTestsetLayout(out)).toEqual([]);
    expect(await readTestsetManifest(out)).toMatchObject({ scorer: "chexpert", tasks: [...TASKS] });
  });
});
