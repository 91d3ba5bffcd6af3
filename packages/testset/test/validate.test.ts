import { chmod, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "csv-stringify/sync";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateTestset, inspectTestset, readJpegMarkers, validateTestsetLayout } from "../src/index.ts";
import { parseRows, tempDir } from "./helpers.ts";

// Each test breaks its own small generated test set in one way and expects exactly that reason.
let dir: { path: string; remove: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir("validate");
  await generateTestset({ outDir: dir.path, studies: 8, longSide: 64, seed: 21 });
});
afterEach(() => dir.remove());

const file = (...parts: string[]) => join(dir.path, ...parts);
const IMAGE = "CheXpert-v1.0/test/patient64742/study1/view1_frontal.jpg";
const image = () => file("public", IMAGE);

/** A JPEG with one extra segment (marker + payload) right after its start-of-image marker. */
function withSegment(jpeg: Uint8Array, marker: number, payload: string): Uint8Array {
  const body = Buffer.from(payload, "latin1");
  const segment = Buffer.from([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff]);
  return Buffer.concat([jpeg.subarray(0, 2), segment, body, jpeg.subarray(2)]);
}

async function rewriteLabels(rel: string, edit: (rows: Record<string, string>[]) => void): Promise<void> {
  const rows = parseRows(await readFile(file(rel), "utf8"));
  edit(rows);
  await writeFile(file(rel), stringify(rows, { header: true, columns: Object.keys(rows[0] ?? {}) }));
}

describe("validateTestsetLayout: images", () => {
  it("accepts the generated set and summarizes it", async () => {
    const { problems, summary } = await inspectTestset(dir.path);
    expect(problems).toEqual([]);
    expect(summary.studies).toBe(8);
    expect(summary.images).toBe(summary.frontal + summary.lateral);
    expect(Object.values(summary.viewsPerStudy).reduce((a, b) => a + b, 0)).toBe(8);
    expect(summary.prevalence.map((p) => p.positives + p.negatives)).toEqual([8, 8, 8, 8, 8]);
    expect(summary.readers).toHaveLength(15);
  });

  it("reports a truncated JPEG", async () => {
    const bytes = await readFile(image());
    await writeFile(image(), bytes.subarray(0, bytes.length - 40));
    expect(await validateTestsetLayout(dir.path)).toEqual([
      `image is not a readable JPEG: ${IMAGE}: truncated JPEG (no end-of-image marker)`,
    ]);
  });

  it("reports a file that is not a JPEG at all", async () => {
    await writeFile(image(), "\x89PNG\r\n\x1a\n not really");
    expect(await validateTestsetLayout(dir.path)).toEqual([
      `image is not a readable JPEG: ${IMAGE}: not a JPEG (no start-of-image marker)`,
    ]);
  });

  it("reports EXIF metadata and comments, where a label could hide", async () => {
    const exif = withSegment(await readFile(image()), 0xe1, "Exif\0\0Pleural Effusion: 1");
    await writeFile(image(), withSegment(exif, 0xfe, "edema"));
    expect(readJpegMarkers(exif)).toMatchObject({ leaks: ["APP1 (EXIF/XMP metadata)"] });
    expect(await validateTestsetLayout(dir.path)).toEqual([
      `image carries data a model could read (strip it): ${IMAGE}: COM (comment), APP1 (EXIF/XMP metadata)`,
    ]);
  });

  it("reports data appended after the end of the image", async () => {
    await writeFile(image(), Buffer.concat([await readFile(image()), Buffer.from("label=1")]));
    expect(await validateTestsetLayout(dir.path)).toEqual([
      `image carries data a model could read (strip it): ${IMAGE}: 7 bytes after the end-of-image marker`,
    ]);
  });
});

describe("validateTestsetLayout: leaks through public/", () => {
  it("reports a folder or file name holding an observation", async () => {
    await mkdir(file("public", "Pleural_Effusion"));
    await writeFile(file("public", "Pleural_Effusion", "keep"), "");
    const problems = await validateTestsetLayout(dir.path);
    expect(problems).toContain('public/Pleural_Effusion: name reveals a label ("pleuraleffusion")');
    expect(problems).toContain("public/Pleural_Effusion/keep: file not in the image list");
  });

  it("reports a symlink that leaves public/, and an absolute one", async () => {
    await symlink("../../../../../private/groundtruth.csv", file("public", "CheXpert-v1.0", "test", "notes"));
    await symlink("/etc/hostname", file("public", "host"));
    expect(await validateTestsetLayout(dir.path)).toEqual([
      "public/CheXpert-v1.0/test/notes: symlink leaves public/ (to ../../../../../private/groundtruth.csv)",
      "public/host: absolute symlink (to /etc/hostname)",
    ]);
  });

  it("reports a stray file and an extra column in the image list", async () => {
    await writeFile(file("public", "readme.txt"), "hello");
    const list = await readFile(file("public", "test_image_paths.csv"), "utf8");
    await writeFile(
      file("public", "test_image_paths.csv"),
      list.replace("Path\n", "Path,Hint\n").replace(/\.jpg\n/g, ".jpg,x\n"),
    );
    expect(await validateTestsetLayout(dir.path)).toEqual([
      'public/test_image_paths.csv: extra column "Hint" (only `Path` may reach a model)',
      "public/readme.txt: file not in the image list",
    ]);
  });
});

describe("validateTestsetLayout: labels and private/", () => {
  it("reports private/ readable by other users", async () => {
    await chmod(file("private"), 0o755);
    expect(await validateTestsetLayout(dir.path)).toEqual([
      "private/ is accessible to other users (mode 0755); run chmod 700 on it",
    ]);
  });

  it("reports a task without positives and one without negatives", async () => {
    await rewriteLabels("private/groundtruth.csv", (rows) => {
      for (const r of rows) {
        r.Edema = "0";
        r.Cardiomegaly = "1";
      }
    });
    const problems = await validateTestsetLayout(dir.path);
    expect(problems).toEqual([
      "private/groundtruth.csv: `Cardiomegaly` has no negative study",
      "private/groundtruth.csv: `Edema` has no positive study",
    ]);
  });

  it("reports a reader file whose studies do not match the image list", async () => {
    let dropped = "";
    await rewriteLabels("private/readers/rad2.csv", (rows) => {
      dropped = rows.splice(3, 1)[0]?.Study ?? "";
    });
    expect(await validateTestsetLayout(dir.path)).toEqual([
      `private/readers/rad2.csv: study in the image list but not labelled: ${dropped}`,
    ]);
  });

  it("reports a label that is not 0/1", async () => {
    await rewriteLabels("private/groundtruth.csv", (rows) => {
      if (rows[1]) rows[1].Atelectasis = "-1";
    });
    expect(await validateTestsetLayout(dir.path)).toEqual([
      'private/groundtruth.csv: row 3: `Atelectasis` must be 0 or 1, got "-1"',
    ]);
  });
});
