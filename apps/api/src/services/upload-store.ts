import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir, rename, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { MultipartFile } from "@fastify/multipart";
import { Errors } from "../errors.ts";
import { extractBundle, type BundleLimits } from "./bundle.ts";
import { fsyncPath, namesIn } from "./files.ts";
import { ContentCheck } from "./content-check.ts";
import { commandOnImage, type SubmissionFields } from "./upload-fields.ts";

// Where an upload's bytes live in the data directory, from the first byte to the submission's
// record: partial files, the checked file under its final name, a bundle's extracted tree.

const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

export interface ReceivedUpload {
  id: string;
  kind: "image" | "bundle";
  fields: SubmissionFields;
  /** File name relative to the uploads directory. */
  fileName: string;
  /** For bundles: the extracted tree's directory, relative to the data dir. */
  bundleDir: string | null;
  size: number;
  sha256: string;
}

export interface UploadTarget {
  /** The submission id the upload is stored under (its quota reservation's id). */
  id: string;
  dataDir: string;
  bundleLimits: BundleLimits;
}

export const uploadsDirOf = (dataDir: string) => path.join(dataDir, "uploads");
export const bundlesDirOf = (dataDir: string) => path.join(dataDir, "bundles");

// Multipart uploads stream into a directory of their own process (`<host>-<pid>`), so a process that
// starts can tell the partial files of a crashed predecessor on this host from those of live ones
// (several API processes may share the data directory).
const PARTIAL_DIR = "partial";
const processTag = () => `${os.hostname()}-${process.pid}`;
export const partialDirOf = (dataDir: string) => path.join(dataDir, PARTIAL_DIR, processTag());

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Deletes the partial multipart uploads of dead API processes of this host (and any left under this
 * process's own tag, which a process that just started cannot have written), returning the upload
 * ids whose quota slots must be given back. Partial files of other hosts are theirs to sweep.
 */
export async function sweepDeadPartials(dataDir: string): Promise<string[]> {
  const root = path.join(dataDir, PARTIAL_DIR);
  const entries = await namesIn(root);
  const ids: string[] = [];
  for (const tag of entries) {
    const dash = tag.lastIndexOf("-");
    const host = tag.slice(0, dash);
    const pid = Number(tag.slice(dash + 1));
    if (host !== os.hostname() || !Number.isInteger(pid)) continue;
    if (pid !== process.pid && isAlive(pid)) continue;
    const dir = path.join(root, tag);
    for (const name of await readdir(dir)) if (name.endsWith(".part")) ids.push(name.slice(0, -5));
    await rm(dir, { recursive: true, force: true });
  }
  return ids;
}

/** Removes whatever an upload stored (the file, and a bundle's extracted tree). */
export async function removeUpload(dataDir: string, upload: Pick<ReceivedUpload, "fileName" | "bundleDir">) {
  await rm(path.join(uploadsDirOf(dataDir), upload.fileName), { force: true });
  if (upload.bundleDir) await rm(path.join(dataDir, upload.bundleDir), { recursive: true, force: true });
}

/**
 * Streams a multipart file part to a partial file of this process (never buffered whole) through
 * the content check; then places it. On any failure, the partial file is removed.
 */
export async function storeFile(
  part: MultipartFile,
  fields: SubmissionFields,
  target: UploadTarget,
): Promise<ReceivedUpload> {
  if (part.fieldname !== "image" && part.fieldname !== "bundle") {
    part.file.resume();
    throw new Errors.WrongFileField(
      `the file must be sent in the field \`image\`, not \`${part.fieldname}\` (a docker save tarball; or in \`bundle\`: a zip or tar.gz of code)`,
    );
  }
  const kind = part.fieldname;
  if (kind === "image" && fields.command !== undefined) {
    part.file.resume();
    throw commandOnImage();
  }
  const partialDir = partialDirOf(target.dataDir);
  await mkdir(partialDir, { recursive: true });
  const partial = path.join(partialDir, `${target.id}.part`);
  const check = new ContentCheck(kind);
  try {
    // A deep write buffer: at the 16 KiB default every 64 KiB socket chunk pauses the upload until
    // the disk write returns, and the fs calls cost more than the transfer (about 1.6x slower).
    const file = createWriteStream(partial, { flags: "wx", mode: 0o600, highWaterMark: WRITE_BUFFER_BYTES });
    await pipeline(part.file, check, file);
    // @fastify/multipart ends the stream at the limit and marks it truncated (and, with
    // throwFileSizeLimit, also rejects); check both so no truncated file is ever accepted.
    if (part.file.truncated) {
      throw new Errors.UploadTooLarge("the uploaded file exceeds the size limit for submissions");
    }
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  return placeUpload(partial, kind, fields, check, target);
}

/**
 * A file already complete on disk (a finished resumable upload) through the same checks as a
 * multipart one: the format sniffed from its first bytes, its size and SHA-256, then the same
 * placement (and bundle extraction). `file` is consumed: moved into place, or deleted.
 */
export async function ingestStoredFile(
  file: string,
  kind: "image" | "bundle",
  fields: SubmissionFields,
  target: UploadTarget,
): Promise<ReceivedUpload> {
  const check = new ContentCheck(kind);
  try {
    if (kind === "image" && fields.command !== undefined) throw commandOnImage();
    const sink = new Writable({ write: (_chunk, _enc, done) => done() });
    await pipeline(createReadStream(file), check, sink);
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
  return placeUpload(file, kind, fields, check, target);
}

/** Moves a checked file to its final name and, for a bundle, extracts it; cleans up on failure. */
async function placeUpload(
  partial: string,
  kind: "image" | "bundle",
  fields: SubmissionFields,
  check: ContentCheck,
  target: UploadTarget,
): Promise<ReceivedUpload> {
  const { id } = target;
  const uploadsDir = uploadsDirOf(target.dataDir);
  let fileName: string | null = null;
  let bundleDir: string | null = null;
  try {
    const format = check.assertComplete();
    fileName = `${id}${format === "gzip" ? ".tar.gz" : format === "zip" ? ".zip" : ".tar"}`;
    await mkdir(uploadsDir, { recursive: true });
    // Durable before the submission is recorded: a 202 spends the team's quota on these bytes.
    await fsyncPath(partial);
    await rename(partial, path.join(uploadsDir, fileName));
    await fsyncPath(uploadsDir);
    if (kind === "bundle") {
      const bundlesDir = bundlesDirOf(target.dataDir);
      await mkdir(bundlesDir, { recursive: true });
      await extractBundle(
        path.join(uploadsDir, fileName),
        format === "zip" ? "zip" : "gzip",
        path.join(bundlesDir, id),
        target.bundleLimits,
      );
      bundleDir = path.join("bundles", id);
    }
    return { id, kind, fields, fileName, bundleDir, size: check.size, sha256: await check.sha256() };
  } catch (err) {
    await rm(partial, { force: true });
    if (fileName) await rm(path.join(uploadsDir, fileName), { force: true });
    if (bundleDir) await rm(path.join(target.dataDir, bundleDir), { recursive: true, force: true });
    throw err;
  }
}
