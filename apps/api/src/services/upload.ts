import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { MultipartFile, MultipartValue } from "@fastify/multipart";
import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { Errors, type FieldProblem } from "../errors.ts";
import { extractBundle, type BundleLimits } from "./bundle.ts";
import { controlCharProblem } from "./text.ts";

const TRUE_WORDS = ["true", "1", "yes", "on"];
const FALSE_WORDS = ["false", "0", "no", "off", ""];

const noControl = (multiline: boolean) => (v: string) => controlCharProblem(v, multiline) === null;

export const SubmissionFieldsSchema = z.object({
  model: z
    .string({ error: "is required: the model's name as the leaderboard will show it" })
    .trim()
    .min(1, { error: "must not be empty" })
    .max(100, { error: "must be at most 100 characters" })
    .refine(noControl(false), { error: "must not contain control characters" }),
  description: z
    .string()
    .trim()
    .max(2000, { error: "must be at most 2000 characters" })
    .refine(noControl(true), { error: "must not contain control characters other than line breaks" })
    .optional(),
  /** For code bundles: the command the run side starts in the bundle's directory. */
  command: z
    .string()
    .trim()
    .min(1, { error: "must not be empty" })
    .max(1000, { error: "must be at most 1000 characters" })
    .refine(noControl(false), { error: "must be one line without control characters" })
    .optional(),
  link: z
    .string()
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
      upload = await storeFile(part, validateFields(raw), target);
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

function readField(part: MultipartValue, raw: Record<string, string>, afterFile: boolean) {
  if (!KNOWN_FIELDS.has(part.fieldname)) {
    throw fieldError(part.fieldname, "unknown field; expected model, description, link, ensemble");
  }
  if (afterFile) {
    throw fieldError(part.fieldname, "must be sent before the file field `image`");
  }
  if (part.fieldname in raw) throw fieldError(part.fieldname, "was sent more than once");
  if (part.valueTruncated) throw fieldError(part.fieldname, "is too long");
  raw[part.fieldname] = typeof part.value === "string" ? part.value : String(part.value);
}

function validateFields(raw: Record<string, string>): SubmissionFields {
  const parsed = SubmissionFieldsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const errors: FieldProblem[] = parsed.error.issues.map((i) => ({
    field: i.path.join("."),
    message: i.message,
  }));
  const err = new Errors.InvalidField(errors.map((e) => `field \`${e.field}\` ${e.message}`).join("; "));
  throw Object.assign(err, { errors });
}

function fieldError(field: string, message: string) {
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
    throw fieldError("command", "applies to code bundles only; an image runs its own entrypoint");
  }
  const uploadsDir = uploadsDirOf(target.dataDir);
  await mkdir(uploadsDir, { recursive: true });
  const { id } = target;
  const partial = path.join(uploadsDir, `${id}.part`);
  const sniffer = kind === "image" ? new Sniffer(sniffTarball, notTar) : new Sniffer(sniffBundle, notBundle);
  const hash = createHash("sha256");
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      hash.update(chunk);
      done(null, chunk);
    },
  });
  let fileName: string | null = null;
  let bundleDir: string | null = null;
  try {
    await pipeline(part.file, sniffer, meter, createWriteStream(partial, { flags: "wx", mode: 0o600 }));
    // @fastify/multipart ends the stream at the limit and marks it truncated (and, with
    // throwFileSizeLimit, also rejects); check both so no truncated file is ever accepted.
    if (part.file.truncated) {
      throw new Errors.UploadTooLarge("the uploaded file exceeds the size limit for submissions");
    }
    const format = sniffer.assertComplete();
    fileName = `${id}${format === "gzip" ? ".tar.gz" : format === "zip" ? ".zip" : ".tar"}`;
    await rename(partial, path.join(uploadsDir, fileName));
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
    return { id, kind, fields, fileName, bundleDir, size, sha256: hash.digest("hex") };
  } catch (err) {
    await rm(partial, { force: true });
    if (fileName) await rm(path.join(uploadsDir, fileName), { force: true });
    throw err;
  }
}

type Format = "gzip" | "tar" | "zip";
type Verdict = Format | "invalid" | "undecided";

/**
 * Looks at the first bytes and stops a transfer early when they are not what the field expects,
 * so a wrong file costs a few bytes, not gigabytes of disk.
 */
class Sniffer extends Transform {
  kind: Format | null = null;
  #head = Buffer.alloc(0);

  constructor(
    private readonly sniff: (head: Buffer) => Verdict,
    private readonly reject: () => Error,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
    if (this.kind === null) {
      this.#head = Buffer.concat([this.#head, chunk]);
      const verdict = this.sniff(this.#head);
      if (verdict === "invalid") return done(this.reject());
      this.kind = verdict === "undecided" ? null : verdict;
    }
    done(null, chunk);
  }

  assertComplete(): Format {
    if (this.kind === null) throw this.reject();
    return this.kind;
  }
}

function notTar() {
  return new Errors.UploadNotTar(
    "the file in `image` is not a tar archive or a gzip stream: upload the output of `docker save IMAGE` (optionally piped through gzip)",
  );
}

function notBundle() {
  return new Errors.BundleNotArchive("the file in `bundle` is not a zip or a tar.gz archive");
}

function sniffTarball(head: Buffer): Verdict {
  if (head.length < 2) return "undecided";
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length < 262) return "undecided";
  // POSIX/GNU tar headers carry "ustar" at offset 257 (docker save writes ustar).
  return head.subarray(257, 262).toString("latin1") === "ustar" ? "tar" : "invalid";
}

function sniffBundle(head: Buffer): Verdict {
  if (head.length < 4) return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b ? "gzip" : "undecided";
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  // A zip's first local file header: PK\x03\x04.
  return head.readUInt32LE(0) === 0x04034b50 ? "zip" : "invalid";
}
