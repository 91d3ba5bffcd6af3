import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { MultipartFile, MultipartValue } from "@fastify/multipart";
import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { Errors, type FieldProblem } from "../errors.ts";

const TRUE_WORDS = ["true", "1", "yes", "on"];
const FALSE_WORDS = ["false", "0", "no", "off", ""];

export const SubmissionFieldsSchema = z.object({
  model: z
    .string({ error: "is required: the model's name as the leaderboard will show it" })
    .trim()
    .min(1, { error: "must not be empty" })
    .max(100, { error: "must be at most 100 characters" }),
  description: z.string().trim().max(2000, { error: "must be at most 2000 characters" }).optional(),
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

const KNOWN_FIELDS = new Set(["model", "description", "link", "ensemble"]);

export interface ReceivedUpload {
  id: string;
  fields: SubmissionFields;
  /** File name relative to the uploads directory. */
  fileName: string;
  size: number;
  sha256: string;
}

/**
 * Reads a submission's multipart body: fields first, then exactly one file part `image`, streamed
 * to disk (never buffered whole) while its size and SHA-256 are computed. Fields are validated
 * before a single byte of the file is written. On any failure, the partial file is removed.
 */
export async function receiveUpload(request: FastifyRequest, uploadsDir: string): Promise<ReceivedUpload> {
  if (!request.isMultipart()) {
    throw new Errors.NotMultipart(
      "send the submission as multipart/form-data: fields model, description, link, ensemble, then the file field image",
    );
  }
  const raw: Record<string, string> = {};
  let upload: ReceivedUpload | null = null;
  for await (const part of request.parts()) {
    if (part.type === "field") {
      readField(part, raw, upload !== null);
      continue;
    }
    if (upload) throw new Errors.InvalidField("send exactly one file per submission");
    upload = await storeFile(part, validateFields(raw), uploadsDir);
  }
  if (!upload) {
    throw new Errors.MissingFile(
      "no file: add the file field `image` holding a `docker save` tarball (plain or gzipped)",
    );
  }
  return upload;
}

function readField(part: MultipartValue, raw: Record<string, string>, afterFile: boolean) {
  if (!KNOWN_FIELDS.has(part.fieldname)) {
    throw fieldError(part.fieldname, "unknown field; expected model, description, link, ensemble");
  }
  if (afterFile) {
    throw fieldError(part.fieldname, "must be sent before the file field `image`");
  }
  if (part.fieldname in raw) throw fieldError(part.fieldname, "was sent more than once");
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
  uploadsDir: string,
): Promise<ReceivedUpload> {
  if (part.fieldname !== "image") {
    part.file.resume();
    const hint = part.fieldname === "bundle" ? " (code bundles are not accepted yet)" : "";
    throw new Errors.WrongFileField(
      `the file must be sent in the field \`image\`, not \`${part.fieldname}\`${hint}`,
    );
  }
  await mkdir(uploadsDir, { recursive: true });
  const id = randomUUID();
  const partial = path.join(uploadsDir, `${id}.part`);
  const sniffer = new TarballSniffer();
  const hash = createHash("sha256");
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(part.file, sniffer, meter, createWriteStream(partial, { flags: "wx", mode: 0o600 }));
    // @fastify/multipart ends the stream at the limit and marks it truncated (and, with
    // throwFileSizeLimit, also rejects); check both so no truncated file is ever accepted.
    if (part.file.truncated) {
      throw new Errors.UploadTooLarge("the uploaded file exceeds the size limit for submissions");
    }
    sniffer.assertComplete();
    const compressed = sniffer.kind === "gzip";
    const fileName = `${id}${compressed ? ".tar.gz" : ".tar"}`;
    await rename(partial, path.join(uploadsDir, fileName));
    return { id, fields, fileName, size, sha256: hash.digest("hex") };
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}

/**
 * Looks at the first bytes and stops a transfer early when they are neither a gzip stream nor a
 * tar archive, so a wrong file costs a few bytes, not gigabytes of disk.
 */
class TarballSniffer extends Transform {
  kind: "gzip" | "tar" | null = null;
  #head = Buffer.alloc(0);

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
    if (this.kind === null) {
      this.#head = Buffer.concat([this.#head, chunk]);
      const verdict = sniff(this.#head);
      if (verdict === "invalid") return done(notTar());
      this.kind = verdict === "undecided" ? null : verdict;
    }
    done(null, chunk);
  }

  assertComplete() {
    if (this.kind === null) throw notTar();
  }
}

function notTar() {
  return new Errors.UploadNotTar(
    "the file in `image` is not a tar archive or a gzip stream: upload the output of `docker save IMAGE` (optionally piped through gzip)",
  );
}

function sniff(head: Buffer): "gzip" | "tar" | "invalid" | "undecided" {
  if (head.length < 2) return "undecided";
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length < 262) return "undecided";
  // POSIX/GNU tar headers carry "ustar" at offset 257 (docker save writes ustar).
  return head.subarray(257, 262).toString("latin1") === "ustar" ? "tar" : "invalid";
}
