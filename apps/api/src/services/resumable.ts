import { open, rm } from "node:fs/promises";
import path from "node:path";
import { FileStore } from "@tus/file-store";
import { Server, type Upload } from "@tus/server";
import type { FastifyBaseLogger } from "fastify";
import { BundleCommandError, DEFAULT_BUNDLE_COMMAND, parseBundleCommand } from "@holdout/contracts";
import { liveReservationIds, releaseQuotaSlot, type Db } from "@holdout/db";
import { Errors, type FieldProblem } from "../errors.ts";
import { UUID } from "../schemas/common.ts";
import { snifferFor } from "./content-check.ts";
import { namesIn } from "./files.ts";
import { EveryStep, startPeriodic } from "./periodic.ts";
import { fieldError, validateFields, type SubmissionFields } from "./upload-fields.ts";
import { sweepDeadPartials } from "./upload-store.ts";

// Resumable uploads speak tus 1.0 (https://tus.io/protocols/resumable-upload), served by the
// maintained @tus/server with its file store: any tus client (tus-js-client, Uppy, the holdout CLI)
// can send a multi-gigabyte image in chunks and, after a broken connection, ask the server for its
// offset (HEAD) and carry on from there. What tus does not know, Holdout adds around it: the team's
// token, a quota slot held from creation (the slot's id is the upload's id, and it is renewed with
// every chunk), the size cap, and on completion the same intake as a multipart upload
// (services/intake.ts).

export const resumableDirOf = (dataDir: string) => path.join(dataDir, "resumable");

/** Metadata keys tus clients add on their own (Uppy: filename, filetype, …): accepted, ignored. */
const CLIENT_KEYS = new Set(["filename", "filetype", "name", "type", "relativePath"]);
const FIELD_KEYS = new Set(["model", "description", "link", "ensemble", "command", "kind"]);

export interface ResumableMetadata {
  kind: "image" | "bundle";
  fields: SubmissionFields;
}

/**
 * Decodes and validates an `Upload-Metadata` header (`key base64value,key2 base64value`): the
 * submission's fields, and `kind` (`image`, the default, or `bundle`). Problems name the key.
 */
export function parseUploadMetadata(header: string | undefined): ResumableMetadata {
  const raw: Record<string, string> = {};
  const problems: FieldProblem[] = [];
  for (const pair of (header ?? "").split(",")) {
    const trimmed = pair.trim();
    if (trimmed === "") continue;
    const [key = "", value = "", ...rest] = trimmed.split(/\s+/);
    if (rest.length > 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
      problems.push({ field: key, message: "is not `key base64value` (see the tus Upload-Metadata header)" });
      continue;
    }
    if (CLIENT_KEYS.has(key)) continue;
    if (!FIELD_KEYS.has(key)) {
      problems.push({
        field: key,
        message: "unknown field; expected model, description, link, ensemble, kind, command",
      });
      continue;
    }
    if (key in raw) problems.push({ field: key, message: "was sent more than once" });
    raw[key] = Buffer.from(value, "base64").toString("utf8");
  }
  const kind = raw.kind ?? "image";
  delete raw.kind;
  if (kind !== "image" && kind !== "bundle") {
    problems.push({ field: "kind", message: "must be image (a docker save tarball) or bundle (code)" });
  }
  if (problems.length > 0) {
    const err = new Errors.InvalidField(problems.map((p) => `field \`${p.field}\` ${p.message}`).join("; "));
    throw Object.assign(err, { errors: problems });
  }
  const fields = validateFields(raw);
  if (kind === "image" && fields.command !== undefined) {
    throw fieldError("command", "applies to code bundles only; an image runs its own entrypoint");
  }
  if (kind === "bundle") {
    // Refused at creation, before a byte is sent: a command the runner could never start.
    try {
      parseBundleCommand(fields.command ?? DEFAULT_BUNDLE_COMMAND);
    } catch (err) {
      if (!(err instanceof BundleCommandError)) throw err;
      throw fieldError("command", `cannot be run: ${err.message}`);
    }
  }
  return { kind: kind as "image" | "bundle", fields };
}

/** Metadata as tus stored it (decoded), back into the same validation. */
export function storedMetadata(upload: Upload): ResumableMetadata {
  const header = Object.entries(upload.metadata ?? {})
    .map(([k, v]) => `${k} ${Buffer.from(v ?? "", "utf8").toString("base64")}`)
    .join(",");
  return parseUploadMetadata(header);
}

export interface TusHooks {
  /** The upload id (= quota reservation id) to create, decided before tus sees the request. */
  idFor(req: Request): string;
  /** Runs when the last byte is in; what it returns goes into the final response's headers. */
  onFinish(req: Request, upload: Upload): Promise<Record<string, string>>;
}

/** `publicPath`: the uploads' path with the API's prefix, which tus writes into `Location`. */
export function createTusServer(
  dir: string,
  publicPath: string,
  maxUploadBytes: number,
  hooks: TusHooks,
): Server {
  return new Server({
    path: publicPath,
    datastore: new FileStore({ directory: dir }),
    maxSize: maxUploadBytes,
    // A relative Location works behind any proxy; tus clients resolve it against the endpoint.
    relativeLocation: true,
    exposedHeaders: ["Holdout-Submission-Id"],
    namingFunction: (req) => hooks.idFor(req),
    // Only ids we created reach tus (the route checks them first); this keeps it so.
    getFileIdFromRequest: (_req, last) => (last && UUID.test(last) ? last : undefined),
    onUploadFinish: async (req, upload) => ({ headers: await hooks.onFinish(req, upload) }),
  });
}

/** Deletes an upload's bytes and tus's record of it. */
export async function removeResumable(dir: string, id: string) {
  await rm(path.join(dir, id), { force: true });
  await rm(path.join(dir, `${id}.json`), { force: true });
}

/** The first bytes of an upload in progress (for the early format check). */
export async function readHead(dir: string, id: string, bytes = 512): Promise<Buffer> {
  const handle = await open(path.join(dir, id), "r");
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Whether the first bytes already show a file of the wrong format; the rejection if so. */
export function headRejection(kind: "image" | "bundle", head: Buffer): Error | null {
  return snifferFor(kind).look(head);
}

/**
 * Deletes what abandoned uploads left behind and gives their quota slots back: resumable uploads
 * whose reservation expired (no chunk arrived for the reservation's lifetime) or is gone, and the
 * partial multipart files of API processes of this host that died mid-upload. Runs at start and
 * then periodically. A live upload renews its reservation with every chunk, so it is never swept.
 */
export async function sweepAbandonedUploads(db: Db, dataDir: string, now = new Date()) {
  const dir = resumableDirOf(dataDir);
  const names = await namesIn(dir);
  const ids = [...new Set(names.map((n) => n.replace(/\.json$/, "")))].filter((id) => UUID.test(id));
  const live = await liveReservationIds(db, ids, now);
  const expired = ids.filter((id) => !live.has(id));
  // Every step is tried, whatever failed before it: one upload that cannot be cleaned keeps no
  // other's quota slot taken. The slot goes first: bytes left without one are swept next time.
  const steps = new EveryStep();
  for (const id of expired) {
    await steps.attempt(() => releaseQuotaSlot(db, id));
    await steps.attempt(() => removeResumable(dir, id));
  }
  const partials = await sweepDeadPartials(dataDir);
  for (const id of partials) await steps.attempt(() => releaseQuotaSlot(db, id));
  steps.finish("the abandoned uploads' sweep");
  return { resumable: expired.length, partial: partials.length };
}

/** Runs the sweep now and every `intervalMs`; the returned function stops it. */
export function startUploadSweeper(db: Db, dataDir: string, intervalMs: number, log: FastifyBaseLogger) {
  return startPeriodic(() => sweepAbandonedUploads(db, dataDir), intervalMs, log, {
    done: (swept) => (swept.resumable + swept.partial > 0 ? "abandoned uploads removed" : null),
    failed: "sweeping abandoned uploads failed",
  });
}
