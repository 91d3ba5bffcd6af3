import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Transform, Writable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { MultipartFile, MultipartValue } from "@fastify/multipart";
import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { sniffFormat, type ArchiveFormat } from "@holdout/archive";
import { CompetitionClosedError, createSubmission, QuotaReservationLostError, type Db } from "@holdout/db";
import { Errors, type FieldProblem } from "../errors.ts";
import { extractBundle, type BundleLimits } from "./bundle.ts";
import { ReceiptHash } from "./receipt-hash.ts";
import { competitionClosed } from "./release.ts";
import { textRule } from "./text.ts";

const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;
const TRUE_WORDS = ["true", "1", "yes", "on"];
const FALSE_WORDS = ["false", "0", "no", "off", ""];

export const SubmissionFieldsSchema = z.object({
  // Shown text: the text rules (services/text.ts) look at the value as sent, before trimming.
  model: z
    .string({ error: "is required: the model's name as the leaderboard will show it" })
    .superRefine(textRule())
    .trim()
    .min(1, { error: "must not be empty" })
    .max(100, { error: "must be at most 100 characters" }),
  description: z
    .string()
    .superRefine(textRule(true))
    .trim()
    .max(2000, { error: "must be at most 2000 characters" })
    .optional(),
  /** For code bundles: the command the run side starts in the bundle's directory. */
  command: z
    .string()
    .superRefine(textRule())
    .trim()
    .min(1, { error: "must not be empty" })
    .max(1000, { error: "must be at most 1000 characters" })
    .optional(),
  link: z
    .string()
    .superRefine(textRule())
    .trim()
    .max(500, { error: "must be at most 500 characters" })
    .refine((v) => v === "" || /^https?:\/\/[^\s]+$/i.test(v), { error: "must be an http(s) URL" })
    .optional(),
  ensemble: z
    .string()
    .trim()
    .toLowerCase()
    .refine((v) => TRUE_WORDS.includes(v) || FALSE_WORDS.includes(v), {
      error: "must be true or false",
    })
    .transform((v) => TRUE_WORDS.includes(v))
    .optional(),
});
export type SubmissionFields = z.infer<typeof SubmissionFieldsSchema>;

const FIELDS_FIRST = " (the fields must come before the file: -F model=... before -F image=@...)";
const KNOWN_FIELDS = new Set(["model", "description", "link", "ensemble", "command"]);

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
  const entries = await readdir(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw err;
  });
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

// busboy's messages for bodies that are not well-formed multipart; they carry no status code.
const MALFORMED =
  /^(Unexpected end of (form|file|multipart data)|Malformed part header|Multipart: Boundary not found|Malformed urlencoded form)/;

/**
 * Reads a submission's multipart body: fields first, then exactly one file part `image`, streamed
 * to disk (never buffered whole) while its size and SHA-256 are computed. Fields are validated
 * before a single byte of the file is written. On any failure, the partial file is removed.
 */
export function assertMultipart(request: FastifyRequest) {
  if (!request.isMultipart()) {
    throw new Errors.NotMultipart(
      "send the submission as multipart/form-data: fields model, description, link, ensemble, then the file field image (or bundle and command)",
    );
  }
}

export async function receiveUpload(request: FastifyRequest, target: UploadTarget): Promise<ReceivedUpload> {
  assertMultipart(request);
  const raw: Record<string, string> = {};
  let upload: ReceivedUpload | null = null;
  try {
    for await (const part of request.parts()) {
      if (part.type === "field") {
        readField(part, raw, upload !== null);
        continue;
      }
      if (upload) {
        part.file.resume();
        throw new Errors.InvalidField("send exactly one file per submission");
      }
      const hint = Object.keys(raw).length === 0 ? FIELDS_FIRST : "";
      upload = await storeFile(part, validateFields(raw, hint), target);
    }
  } catch (err) {
    if (upload) await removeUpload(target.dataDir, upload);
    if (err instanceof Error && !("statusCode" in err) && MALFORMED.test(err.message)) {
      throw new Errors.MalformedMultipart(`the multipart body is malformed: ${err.message}`);
    }
    throw err;
  }
  if (!upload) {
    throw new Errors.MissingFile(
      "no file: add the file field `image` holding a `docker save` tarball (plain or gzipped), or `bundle` holding a zip or tar.gz of code",
    );
  }
  return upload;
}

/** Removes whatever an upload stored (the file, and a bundle's extracted tree). */
export async function removeUpload(dataDir: string, upload: Pick<ReceivedUpload, "fileName" | "bundleDir">) {
  await rm(path.join(uploadsDirOf(dataDir), upload.fileName), { force: true });
  if (upload.bundleDir) await rm(path.join(dataDir, upload.bundleDir), { recursive: true, force: true });
}

/**
 * Records a stored upload as a submission in `received`: its quota reservation (same id) becomes
 * the submission in one transaction. On failure the stored files are removed; the caller gives the
 * reservation back.
 */
export async function recordUpload(
  db: Db,
  dataDir: string,
  owner: { competitionId: string; teamId: string },
  upload: ReceivedUpload,
): Promise<void> {
  try {
    await createSubmission(
      db,
      {
        id: upload.id,
        competitionId: owner.competitionId,
        teamId: owner.teamId,
        kind: upload.kind,
        modelName: upload.fields.model,
        description: upload.fields.description || null,
        link: upload.fields.link || null,
        ensemble: upload.fields.ensemble ?? false,
        command: upload.fields.command ?? null,
        uploadFile: upload.fileName,
        bundleDir: upload.bundleDir,
        uploadSize: upload.size,
        uploadSha256: upload.sha256,
      },
      upload.id,
    );
  } catch (err) {
    await removeUpload(dataDir, upload);
    if (err instanceof QuotaReservationLostError) {
      throw new Errors.UploadExpired("the upload took longer than its quota slot is held; please retry");
    }
    if (err instanceof CompetitionClosedError) throw competitionClosed();
    throw err;
  }
}

function readField(part: MultipartValue, raw: Record<string, string>, afterFile: boolean) {
  if (part.fieldname === "image" || part.fieldname === "bundle") {
    throw fieldError(
      part.fieldname,
      `must be a file, not text: with curl, put @ before the path (-F ${part.fieldname}=@model.tar)`,
    );
  }
  if (!KNOWN_FIELDS.has(part.fieldname)) {
    throw fieldError(
      part.fieldname,
      "unknown field; expected model, description, link, ensemble, command, then the file image or bundle",
    );
  }
  if (afterFile) {
    throw fieldError(part.fieldname, "must be sent before the file field `image`");
  }
  if (part.fieldname in raw) throw fieldError(part.fieldname, "was sent more than once");
  if (part.valueTruncated) throw fieldError(part.fieldname, "is too long");
  raw[part.fieldname] = typeof part.value === "string" ? part.value : String(part.value);
}

/**
 * The submission's metadata, validated; every problem names its field. `hint` is added to each
 * problem (a file that came before every field: the fields were probably sent after it).
 */
export function validateFields(raw: Record<string, string>, hint = ""): SubmissionFields {
  const parsed = SubmissionFieldsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const errors: FieldProblem[] = parsed.error.issues.map((i) => ({
    field: i.path.join("."),
    message: `${i.message}${hint}`,
  }));
  const err = new Errors.InvalidField(errors.map((e) => `field \`${e.field}\` ${e.message}`).join("; "));
  throw Object.assign(err, { errors });
}

export function fieldError(field: string, message: string) {
  return Object.assign(new Errors.InvalidField(`field \`${field}\` ${message}`), {
    errors: [{ field, message }],
  });
}

async function storeFile(
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

export const commandOnImage = () =>
  fieldError("command", "applies to code bundles only; an image runs its own entrypoint");

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

/** Flushes a file's data, or a directory's entries, to the disk. */
async function fsyncPath(file: string): Promise<void> {
  const handle = await open(file, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Sniffs the format from the first bytes (refusing a wrong file early) and meters size and hash.
 * Each chunk goes on at once; the SHA-256 receipt is computed on the hashing thread (receipt-hash.ts)
 * and the next chunk is taken only once that thread has room for it.
 */
class ContentCheck extends Transform {
  size = 0;
  readonly #hash = new ReceiptHash();
  readonly #sniffer: Sniffer;
  #ended = false;

  constructor(kind: "image" | "bundle") {
    super();
    this.#sniffer = snifferFor(kind);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
    const err = this.#sniffer.look(chunk);
    if (err) return done(err);
    this.size += chunk.length;
    let room: Promise<void> | undefined;
    try {
      room = this.#hash.update(chunk);
    } catch (failure) {
      return done(failure as Error);
    }
    this.push(chunk);
    if (room) room.then(() => done(), done);
    else done();
  }

  override _flush(done: TransformCallback) {
    this.#ended = true;
    this.#hash.end();
    done();
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void) {
    // A failed or abandoned upload: its receipt is of no use.
    if (!this.#ended || err) this.#hash.discard();
    done(err);
  }

  assertComplete(): Format {
    return this.#sniffer.assertComplete();
  }

  /** The hex SHA-256 of everything that went through; once the stream has ended. */
  sha256(): Promise<string> {
    return this.#hash.digest();
  }
}

type Format = Extract<ArchiveFormat, "gzip" | "tar" | "zip">;
type Verdict = Format | "invalid" | "undecided";

/**
 * Looks at the first bytes and stops a transfer early when they are not what the field expects,
 * so a wrong file costs a few bytes, not gigabytes of disk.
 */
export class Sniffer {
  kind: Format | null = null;
  #head = Buffer.alloc(0);

  constructor(
    private readonly sniff: (head: Buffer) => Verdict,
    private readonly reject: () => Error,
  ) {}

  /** Feeds the next bytes; returns the rejection once they show the wrong format. */
  look(chunk: Buffer): Error | null {
    if (this.kind !== null) return null;
    this.#head = Buffer.concat([this.#head, chunk]);
    const verdict = this.sniff(this.#head);
    if (verdict === "invalid") return this.reject();
    this.kind = verdict === "undecided" ? null : verdict;
    return null;
  }

  assertComplete(): Format {
    if (this.kind === null) throw this.reject();
    return this.kind;
  }
}

/** The format check for an upload of `kind`, fed with its leading bytes. */
export function snifferFor(kind: "image" | "bundle"): Sniffer {
  return kind === "image" ? new Sniffer(sniffTarball, notTar) : new Sniffer(sniffBundle, notBundle);
}

function notTar() {
  return new Errors.UploadNotTar(
    "the file in `image` is not a tar archive or a gzip stream: upload the output of `docker save IMAGE` (optionally piped through gzip)",
  );
}

function notBundle() {
  return new Errors.BundleNotArchive("the file in `bundle` is not a zip or a tar.gz archive");
}

/** Images: `docker save` output, plain or gzipped (no zip, and no xz/zstd the worker cannot measure). */
function sniffTarball(head: Buffer): Verdict {
  const format = sniffFormat(head, ["gzip", "tar"]);
  return format === "gzip" || format === "tar" || format === "undecided" ? format : "invalid";
}

/** Bundles: a zip, or a tar.gz (told by its gzip magic; the tar inside is checked on extraction). */
function sniffBundle(head: Buffer): Verdict {
  const format = sniffFormat(head, ["gzip", "zip"]);
  return format === "gzip" || format === "zip" || format === "undecided" ? format : "invalid";
}
