import { createHash, randomUUID } from "node:crypto";
import {
  chmod,
  copyFile,
  link,
  mkdir,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import path from "node:path";
import { IMAGE_LIST, studyOfImage } from "@holdout/testset";

/** A few development-set studies laid out as a public/ directory, for the smoke run. */
export interface SmokeSample {
  /** Mounted read-only at /workspace: the sample's own test_image_paths.csv and its images. */
  publicDir: string;
  /** The sample's study ids, the rows the smoke run's predictions must hold. */
  studies: string[];
  images: number;
}

/**
 * Builds (or finds) the smoke sample: the first `count` studies of the development set, in the order
 * its image list names them, with their images hard-linked (copied across filesystems) under
 * `cacheRoot`. The directory is named by a digest of the set's location, its image list and the
 * count, and is published by an atomic rename, so workers sharing `cacheRoot` reuse one copy and
 * never see a half-built one.
 */
export async function prepareSmokeSample(
  devsetDir: string,
  count: number,
  cacheRoot: string,
): Promise<SmokeSample> {
  const source = path.join(await realpath(devsetDir), "public");
  const listText = await readFile(path.join(source, IMAGE_LIST), "utf8").catch((err: unknown) => {
    throw new Error(`cannot read the development set's public/${IMAGE_LIST}`, { cause: err });
  });
  const { studies, images } = sampleOf(listText, count);
  const key = createHash("sha256")
    .update(source)
    .update("\0")
    .update(listText)
    .update(`\0${count}`)
    .digest("hex");
  const dir = path.join(cacheRoot, "smoke", key.slice(0, 20));
  const publicDir = path.join(dir, "public");
  const result = { publicDir, studies, images: images.length };
  if (await exists(path.join(publicDir, IMAGE_LIST))) return result;

  const partial = `${dir}.${randomUUID()}.partial`;
  try {
    await mkdir(path.join(partial, "public"), { recursive: true, mode: 0o755 });
    for (const image of images) {
      const target = path.join(partial, "public", image);
      await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
      await linkOrCopy(path.join(source, image), target);
    }
    await writeList(path.join(partial, "public", IMAGE_LIST), images);
    await chmodTree(partial, images);
    await mkdir(path.dirname(dir), { recursive: true });
    await rename(partial, dir).catch((err: NodeJS.ErrnoException) => {
      // Another worker published the same sample first: theirs is as good as ours.
      if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
    });
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return result;
}

/** The first `count` studies of an image list (`Path` header, one image per line) and their images. */
export function sampleOf(listText: string, count: number): { studies: string[]; images: string[] } {
  const lines = listText.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines[0]?.trim() !== "Path")
    throw new Error(`the development set's ${IMAGE_LIST} must start with a Path header`);
  const studies: string[] = [];
  const images: string[] = [];
  for (const raw of lines.slice(1)) {
    const image = raw.trim().replace(/^"(.*)"$/, "$1");
    const study = studyOfImage(image);
    const parts = image.split("/");
    if (study === undefined || image.startsWith("/") || parts.includes("..") || parts.includes(".")) {
      throw new Error(
        `the development set's ${IMAGE_LIST} lists ${JSON.stringify(image)}, not a relative image path`,
      );
    }
    if (!studies.includes(study)) {
      if (studies.length >= count) continue;
      studies.push(study);
    }
    images.push(image);
  }
  if (studies.length === 0) throw new Error(`the development set's ${IMAGE_LIST} lists no images`);
  return { studies, images };
}

async function writeList(file: string, images: string[]): Promise<void> {
  await writeFile(file, ["Path", ...images].join("\n") + "\n", { mode: 0o644 });
}

/** Every directory traversable and every file readable by the model's user, whatever the umask. */
async function chmodTree(root: string, images: string[]): Promise<void> {
  const dirs = new Set<string>([root, path.join(root, "public")]);
  for (const image of images) {
    let d = path.dirname(path.join(root, "public", image));
    while (d.startsWith(path.join(root, "public")) && !dirs.has(d)) {
      dirs.add(d);
      d = path.dirname(d);
    }
  }
  for (const d of dirs) await chmod(d, 0o755);
}

async function linkOrCopy(source: string, target: string): Promise<void> {
  try {
    await link(source, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EXDEV" && code !== "EPERM") throw err;
    await copyFile(source, target);
    await chmod(target, 0o644);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
