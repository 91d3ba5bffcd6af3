import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ArchiveRejection, entryParts, walkTar } from "@holdout/archive";
import yauzl from "yauzl";
import { Errors } from "../errors.ts";

export interface BundleLimits {
  /** Total bytes once extracted (zip bombs stop here, counted on the bytes actually written). */
  maxBytes: number;
  maxFiles: number;
}

const MAX_DEPTH = 32;
const MAX_PATH = 1024;
/** Tar bytes per entry besides its content: a header, a PAX header and padding, generously. */
const TAR_OVERHEAD_PER_ENTRY = 3 * 1024;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

const invalid = (message: string) => new Errors.BundleInvalid(`the bundle is not acceptable: ${message}`);

/**
 * The safe place of an archive entry inside `root`, or a rejection: the archive package's safe
 * entry names (no absolute paths, no `..`, no backslashes or NULs), shorter and shallower than it
 * requires. Together with refusing links, this is what keeps every write inside the bundle's
 * directory (no zip-slip).
 */
export function entryTarget(root: string, name: string): string | null {
  if (name.length > MAX_PATH) {
    throw invalid(`entry ${JSON.stringify(name.slice(0, 100))} is not a plain relative path`);
  }
  let parts: string[];
  try {
    parts = entryParts(name, "the bundle");
  } catch (err) {
    if (err instanceof ArchiveRejection) throw invalid(err.sentence.replace(/^the bundle: /, ""));
    throw err;
  }
  if (parts.length === 0) return null;
  if (parts.length > MAX_DEPTH)
    throw invalid(`entry ${JSON.stringify(name.slice(0, 100))} is nested too deep`);
  const target = path.join(root, ...parts);
  if (!target.startsWith(root + path.sep))
    throw invalid(`entry ${JSON.stringify(name)} points outside the bundle`);
  return target;
}

class Budget {
  bytes = 0;
  files = 0;
  constructor(readonly limits: BundleLimits) {}
  addFile() {
    if (++this.files > this.limits.maxFiles) {
      throw invalid(`it holds more than ${this.limits.maxFiles} entries`);
    }
  }
  meter(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        this.bytes += chunk.length;
        if (this.bytes > this.limits.maxBytes) {
          return done(
            new Errors.BundleTooLarge(`the bundle extracts to more than ${this.limits.maxBytes} bytes`),
          );
        }
        done(null, chunk);
      },
    });
  }
}

async function writeEntry(target: string, source: Readable, budget: Budget, executable: boolean) {
  await mkdir(path.dirname(target), { recursive: true });
  // `wx`: an archive naming the same file twice is refused rather than overwriting it. Modes are
  // ours, never the archive's (no setuid, no world-writable files).
  const out = createWriteStream(target, { flags: "wx", mode: executable ? 0o755 : 0o644 });
  await pipeline(source, budget.meter(), out).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "EEXIST") throw invalid(`it holds ${path.basename(target)} twice`);
    throw err;
  });
}

async function extractZip(archive: string, root: string, budget: Budget) {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(archive, {
      lazyEntries: true,
      strictFileNames: true,
      validateEntrySizes: true,
    });
  } catch (err) {
    throw invalid(`it is not a readable zip file (${(err as Error).message})`);
  }
  // A permanent listener: yauzl may emit `error` between our reads, which must never crash us.
  zip.on("error", () => undefined);
  const next = () =>
    new Promise<yauzl.Entry | null>((resolve, reject) => {
      const cleanup = () => {
        zip.off("entry", onEntry);
        zip.off("end", onEnd);
        zip.off("error", onError);
      };
      const onEntry = (e: yauzl.Entry) => (cleanup(), resolve(e));
      const onEnd = () => (cleanup(), resolve(null));
      const onError = (err: Error) => (cleanup(), reject(invalid(err.message)));
      zip.on("entry", onEntry);
      zip.on("end", onEnd);
      zip.on("error", onError);
      zip.readEntry();
    });
  try {
    for (;;) {
      const entry = await next();
      if (!entry) return;
      budget.addFile();
      const target = entryTarget(root, entry.fileName);
      const mode = (entry.externalFileAttributes >>> 16) & 0xffff;
      const type = mode & S_IFMT;
      const isDir = entry.fileName.endsWith("/") || type === S_IFDIR;
      if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) {
        throw invalid(
          `entry ${JSON.stringify(entry.fileName)} is a link or special file; only files and directories are allowed`,
        );
      }
      if (!target) continue;
      if (isDir) {
        await mkdir(target, { recursive: true });
        continue;
      }
      const stream = await zip.openReadStreamPromise(entry).catch((err: Error) => {
        throw invalid(err.message);
      });
      await writeEntry(target, stream, budget, (mode & 0o111) !== 0).catch(
        (err: Error & { statusCode?: number }) => {
          throw err.statusCode ? err : invalid(err.message);
        },
      );
    }
  } finally {
    zip.close();
  }
}

/** A refusal of the archive package, in the API's words (the same words for every bundle fault). */
function asBundleFault(err: unknown, limits: BundleLimits): unknown {
  if (!(err instanceof ArchiveRejection)) return err;
  if (err.code === "not_gzip" || err.code === "not_tar") return invalid("it is not a readable tar.gz file");
  if (err.code === "too_large" || err.code === "compression_ratio") {
    return new Errors.BundleTooLarge(`the bundle extracts to more than ${limits.maxBytes} bytes`);
  }
  return invalid(err.sentence.replace(/^the bundle: /, ""));
}

/**
 * The tar.gz through the archive package's bounded walk (gunzip, the raw-header check beside
 * tar-stream, the entry count and the tar stream's size), each file written as it streams by.
 */
async function extractTarGz(archive: string, root: string, budget: Budget) {
  const { maxFiles, maxBytes } = budget.limits;
  try {
    await walkTar(
      archive,
      {
        compressed: true,
        limits: {
          maxTarBytes: maxBytes + (maxFiles + 1) * TAR_OVERHEAD_PER_ENTRY,
          maxCompressionRatio: Number.POSITIVE_INFINITY, // the extracted size is the bound
          maxEntries: maxFiles,
        },
        policy: { where: "the bundle", kind: "layer" },
      },
      async (entry, body) => {
        const { name, type, mode } = entry;
        budget.addFile();
        if (type !== "file" && type !== "directory") {
          throw invalid(`entry ${JSON.stringify(name)} is a ${type}; only files and directories are allowed`);
        }
        const target = entryTarget(root, name);
        if (!target || type === "directory") {
          if (target) await mkdir(target, { recursive: true });
          for await (const chunk of body) void chunk;
          return;
        }
        await writeEntry(target, body as unknown as Readable, budget, (mode & 0o111) !== 0);
      },
    );
  } catch (err) {
    throw asBundleFault(err, budget.limits);
  }
}

/**
 * Extracts a code bundle (zip or tar.gz) into `root`, which must not exist yet. On any failure
 * `root` is removed, so a refused bundle leaves nothing behind.
 */
export async function extractBundle(
  archive: string,
  format: "zip" | "gzip",
  root: string,
  limits: BundleLimits,
): Promise<{ files: number; bytes: number }> {
  await mkdir(root, { recursive: false, mode: 0o755 });
  const budget = new Budget(limits);
  try {
    if (format === "zip") await extractZip(archive, root, budget);
    else await extractTarGz(archive, root, budget);
    if (budget.files === 0) throw invalid("it is empty");
    return { files: budget.files, bytes: budget.bytes };
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}
