import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import type { Upload } from "@tus/server";
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from "fastify";
import { NodeRequest } from "srvx/node";
import { ProblemSchema } from "@holdout/contracts/http";
import { findUploadedSubmission, renewUploadReservation, type Db } from "@holdout/db";
import { Errors } from "../errors.ts";
import { currentTeam } from "../plugins/auth.ts";
import { IdParamsSchema, UUID } from "../schemas/common.ts";
import type { Compensations } from "../services/compensation.ts";
import type { Intake } from "../services/intake.ts";
import { refuseIfClosed } from "../services/release.ts";
import {
  createTusServer,
  headRejection,
  parseUploadMetadata,
  readHead,
  removeResumable,
  resumableDirOf,
  startUploadSweeper,
  storedMetadata,
} from "../services/resumable.ts";
import { submissionUrl } from "../services/submission-view.ts";
import { ingestStoredFile } from "../services/upload-store.ts";
import {
  ChunkBody,
  ChunkResponse,
  CreatedResponse,
  CreateHeaders,
  OffsetResponse,
  OptionsResponse,
  PatchHeaders,
  TerminatedResponse,
  TUS_EXTENSIONS,
  TUS_VERSION,
  TusHeaders,
} from "../schemas/tus.ts";

export interface UploadRoutesOptions {
  db: Db;
  dataDir: string;
  competitionId: string;
  maxUploadBytes: number;
  /** Where uploads become submissions (shared with multipart uploads). */
  intake: Intake;
  /** How long a quota slot (and so an unfinished upload) lives after its last chunk. */
  reservationTtlMs: number;
  /** How often abandoned uploads are looked for (they are also swept at start). */
  sweepIntervalMs: number;
}

/** What one request carries between our checks and tus's hooks. */
interface Exchange {
  teamId: string;
  id: string;
  /** When the upload's quota slot (and so the upload) expires unless another request renews it. */
  expiresAt: Date;
  /** A rejection raised inside a tus hook, answered as problem+json instead of tus's text. */
  error?: unknown;
}

const CHUNK_TYPE = "application/offset+octet-stream";
/** The routes' path under the API's prefix (registered in app.ts). */
const UPLOADS = "/uploads";

/** tus's refusals as problems with our stable codes (tus answers them in plain text). */
function tusProblem(status: number, body: string): Error {
  const detail = body.trim() || `the upload request was refused (${status})`;
  switch (status) {
    case 404:
    case 410:
      return new Errors.NotFound(`no upload in progress here: ${detail}`);
    case 409:
      return new Errors.UploadOffsetMismatch(
        `${detail}: ask for the server's offset (HEAD) and send from there`,
      );
    case 412:
      return new Errors.TusVersion(`${detail}: send \`Tus-Resumable: ${TUS_VERSION}\``);
    case 413:
      return new Errors.UploadTooLarge(`${detail}: the file exceeds the size limit for submissions`);
    default:
      return Object.assign(new Errors.UploadProtocol(`tus: ${detail}`), { statusCode: status });
  }
}

const uploadRoutes: FastifyPluginCallbackTypebox<UploadRoutesOptions> = (app, opts, done) => {
  const { db, dataDir, intake } = opts;
  const dir = resumableDirOf(dataDir);
  const exchanges = new WeakMap<Request, Exchange>();

  // tus writes the upload's public path (with the prefix this plugin is registered under) in Location.
  const tus = createTusServer(dir, `${app.prefix}${UPLOADS}`, opts.maxUploadBytes, {
    idFor: (req) => exchangeOf(req).id,
    onFinish: async (req, upload) => {
      const exchange = exchangeOf(req);
      try {
        const state = await intake.complete({ id: upload.id, teamId: exchange.teamId }, app.log, (undo) =>
          receive(upload, undo),
        );
        return { "Holdout-Submission-Id": upload.id, "Holdout-Submission-State": state };
      } catch (err) {
        // Nothing of a refused upload stays (the intake undid its steps): not its bytes, not its slot.
        exchange.error = err;
        // tus's own error shape: it answers with it, and forward() replaces that with ours.
        throw Object.assign(new Error("refused"), { status_code: 400, body: "refused" });
      }
    },
  });

  function exchangeOf(req: Request): Exchange {
    const e = exchanges.get(req);
    if (!e) throw new Error("a tus request arrived without going through the upload routes");
    return e;
  }

  /** The finished file goes the multipart way: the same content checks, then the same intake. */
  async function receive(upload: Upload, undo: Compensations) {
    undo.push("remove the resumable upload", () => removeResumable(dir, upload.id));
    const { kind, fields } = storedMetadata(upload);
    const received = await ingestStoredFile(
      path.join(dir, upload.id),
      kind,
      fields,
      intake.target(upload.id),
    );
    await removeResumable(dir, upload.id);
    return received;
  }

  /** Drops an upload in progress: its bytes, and its quota slot (each even if the other fails). */
  const discard = (id: string, log: FastifyBaseLogger) =>
    intake.abandon(id, log, [["remove the resumable upload", () => removeResumable(dir, id)]]);

  /** Lets tus answer; its refusals are thrown as problems (problem+json), its answers returned. */
  async function forward(request: FastifyRequest, reply: FastifyReply, exchange: Exchange) {
    const req = new NodeRequest({ req: request.raw, res: reply.raw });
    exchanges.set(req, exchange);
    const res = await tus.handleWeb(req);
    const headers = Object.fromEntries(res.headers);
    const body = await res.text();
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- whatever the hook caught, rethrown as is
    if (exchange.error !== undefined) throw exchange.error;
    if (res.status >= 400) {
      throw Object.assign(tusProblem(res.status, body), {
        headers: { "tus-resumable": headers["tus-resumable"] ?? "1.0.0" },
      });
    }
    delete headers["content-length"];
    // tus's answers carry no body (its text content type describes nothing).
    if (body === "") delete headers["content-type"];
    return { status: res.status, headers, body };
  }

  function send(reply: FastifyReply, answer: Awaited<ReturnType<typeof forward>>, exchange: Exchange) {
    // expiration: an upload still in progress says until when it is kept without another request.
    if (!answer.headers["holdout-submission-id"]) {
      answer.headers["upload-expires"] = exchange.expiresAt.toUTCString();
    }
    return reply
      .status(answer.status)
      .headers(answer.headers)
      .send(answer.body === "" ? undefined : answer.body);
  }

  /** The caller's upload in progress (its reservation), renewed; 404 for anyone else's. */
  async function ownUpload(request: FastifyRequest, id: string): Promise<Exchange> {
    const team = currentTeam(request);
    if (UUID.test(id)) {
      const expiresAt = new Date(Date.now() + opts.reservationTtlMs);
      const renewed = await renewUploadReservation(db, { id, teamId: team.id, expiresAt });
      if (renewed) return { teamId: team.id, id, expiresAt };
    }
    throw new Errors.NotFound(`no upload in progress ${id} (finished, expired, or never created)`);
  }

  /**
   * An upload in progress when the competition closed can never become a submission: its next chunk
   * is refused, and its bytes and quota slot go at once rather than at the sweep.
   */
  async function refuseIfClosedUpload(exchange: Exchange, log: FastifyBaseLogger): Promise<void> {
    try {
      await refuseIfClosed(db, opts.competitionId);
    } catch (err) {
      await discard(exchange.id, log);
      throw err;
    }
  }

  // tus sends chunks as application/offset+octet-stream; tus reads the body itself, so fastify only
  // sees an empty string (what the routes' ChunkBody schema accepts).
  app.addContentTypeParser(CHUNK_TYPE, (_request, _payload, parsed) => parsed(null, ""));
  const isChunk = (request: FastifyRequest) =>
    request.headers["content-type"]?.split(";")[0]?.trim().toLowerCase() === CHUNK_TYPE;

  // tus 1.0: every request but OPTIONS names the protocol version, and one the server does not
  // speak is answered 412 with the versions it does; every answer names the version it speaks,
  // refusals (problem+json) included.
  // Checked after the credentials (a request without them is answered 401 first, as everywhere)
  // and before the body's type and the headers' schema.
  app.addHook("preParsing", (request, _reply, payload, next) => {
    const version = request.headers["tus-resumable"];
    if (request.method === "PATCH" && version === TUS_VERSION && !isChunk(request)) {
      const sent = request.headers["content-type"]?.split(";")[0] ?? "no Content-Type";
      const err = new Errors.UnsupportedMediaType(`a chunk is sent as ${CHUNK_TYPE}, not ${sent} (tus 1.0)`);
      return next(err, payload);
    }
    if (request.method === "OPTIONS" || version === TUS_VERSION) return next(null, payload);
    const err = new Errors.TusVersion(
      version === undefined
        ? `a resumable upload request needs \`Tus-Resumable: ${TUS_VERSION}\``
        : `Tus-Resumable ${String(version)} is not supported; this server speaks tus ${TUS_VERSION}`,
    );
    next(Object.assign(err, { headers: { "tus-version": TUS_VERSION } }), payload);
  });
  app.addHook("onSend", (_request, reply, payload, next) => {
    void reply.header("tus-resumable", TUS_VERSION);
    next(null, payload);
  });

  const stopSweeper = startUploadSweeper(db, dataDir, opts.sweepIntervalMs, app.log);
  app.addHook("onClose", () => stopSweeper());

  // Discovery: what the server speaks, for anyone (no credentials, no Tus-Resumable needed).
  const discovery = {
    "tus-version": TUS_VERSION,
    "tus-extension": TUS_EXTENSIONS.join(","),
    "tus-max-size": String(opts.maxUploadBytes),
  };
  const discover = { summary: "tus discovery: the versions, extensions and largest upload served" };
  app.options(
    UPLOADS,
    { schema: { ...discover, response: { 204: OptionsResponse } } },
    async (_request, reply) => reply.status(204).headers(discovery).send(null),
  );
  app.options(
    `${UPLOADS}/:id`,
    { schema: { ...discover, params: IdParamsSchema, response: { 204: OptionsResponse } } },
    async (_request, reply) => reply.status(204).headers(discovery).send(null),
  );

  app.post(
    UPLOADS,
    {
      onRequest: app.requireTeam,
      schema: {
        summary: "Start a resumable upload (tus 1.0 creation)",
        description:
          "Headers: `Tus-Resumable: 1.0.0`, `Upload-Length` (or `Upload-Defer-Length: 1`), `Upload-Metadata` with base64 values: `model` (required), `description`, `link`, `ensemble`, `kind` (`image`, default, or `bundle`), `command` (bundles). Takes a quota slot; 201 with `Location` for the PATCH requests. The first bytes may come in this request's body (creation-with-upload). The last byte's answer carries `Holdout-Submission-Id`.",
        headers: CreateHeaders,
        // Optional here (creation-with-upload); fastify validates it only when one is sent.
        body: ChunkBody,
        "x-request-body-optional": true,
        response: { 201: CreatedResponse, "4xx": ProblemSchema, "5xx": ProblemSchema },
      },
    },
    async (request, reply) => {
      const team = currentTeam(request);
      intake.admit(request.principal);
      parseUploadMetadata(request.headers["upload-metadata"]);
      const declared = request.headers["upload-length"];
      if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > opts.maxUploadBytes) {
        throw new Errors.UploadTooLarge(
          `Upload-Length ${declared} exceeds the size limit for submissions (${opts.maxUploadBytes} bytes)`,
        );
      }
      const { id, expiresAt } = await intake.reserve(team.id);
      try {
        await mkdir(dir, { recursive: true });
        const exchange = { teamId: team.id, id, expiresAt };
        const answer = await forward(request, reply, exchange);
        // First bytes sent with the creation: the same early format check as a first PATCH.
        if (answer.status === 201 && !answer.headers["holdout-submission-id"])
          await checkHead(id, request.log);
        return send(reply, answer, exchange);
      } catch (err) {
        await discard(id, request.log);
        throw err;
      }
    },
  );

  app.route({
    method: "HEAD",
    url: `${UPLOADS}/:id`,
    onRequest: app.requireTeam,
    // The one HEAD route of the API that is not its GET's shadow: listed in the document.
    config: { swagger: { exposeHeadRoute: true } },
    schema: {
      summary: "How much of a resumable upload the server has (Upload-Offset)",
      description:
        "For an upload that already became a submission, `Upload-Offset` equals `Upload-Length` and `Holdout-Submission-Id` names it (its final answer was lost).",
      params: IdParamsSchema,
      headers: TusHeaders,
      response: { 200: OffsetResponse, "4xx": ProblemSchema },
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      const team = currentTeam(request);
      if (UUID.test(id)) {
        const done = await findUploadedSubmission(db, opts.competitionId, team.id, id);
        if (done) {
          const size = done.uploadSize.toString();
          return reply
            .status(200)
            .headers({
              "upload-offset": size,
              "upload-length": size,
              "cache-control": "no-store",
              "holdout-submission-id": id,
              "holdout-submission-state": done.state,
              location: submissionUrl(id, app.prefix),
            })
            .send(null);
        }
      }
      const exchange = await ownUpload(request, id);
      return send(reply, await forward(request, reply, exchange), exchange);
    },
  });

  app.patch(
    `${UPLOADS}/:id`,
    {
      onRequest: app.requireTeam,
      schema: {
        summary: "Send the next chunk of a resumable upload (at Upload-Offset)",
        params: IdParamsSchema,
        headers: PatchHeaders,
        body: ChunkBody,
        response: { 204: ChunkResponse, "4xx": ProblemSchema, "5xx": ProblemSchema },
      },
    },
    async (request, reply) => {
      const exchange = await ownUpload(request, request.params.id);
      await refuseIfClosedUpload(exchange, request.log);
      const from = Number(request.headers["upload-offset"] ?? "-1");
      try {
        const answer = await forward(request, reply, exchange);
        // The first bytes decide the format: a wrong file is refused after one chunk, not 5 GB.
        if (from >= 0 && from < 512 && answer.status === 204) await checkHead(exchange.id, request.log);
        return send(reply, answer, exchange);
      } catch (err) {
        // Over the size cap, an upload can never finish: free its disk and its quota slot now.
        if ((err as { statusCode?: number }).statusCode === 413) await discard(exchange.id, request.log);
        throw err;
      }
    },
  );

  async function checkHead(id: string, log: FastifyBaseLogger) {
    const upload = await tus.datastore.getUpload(id).catch(() => null);
    if (!upload) return;
    const rejection = headRejection(storedMetadata(upload).kind, await readHead(dir, id));
    if (rejection) {
      await discard(id, log);
      throw rejection;
    }
  }

  app.delete(
    `${UPLOADS}/:id`,
    {
      onRequest: app.requireTeam,
      schema: {
        summary:
          "Abandon a resumable upload: its bytes are deleted and its quota slot given back (tus termination)",
        params: IdParamsSchema,
        headers: TusHeaders,
        response: { 204: TerminatedResponse, "4xx": ProblemSchema, "5xx": ProblemSchema },
      },
    },
    async (request, reply) => {
      const exchange = await ownUpload(request, request.params.id);
      const [failure] = await discard(exchange.id, request.log);
      // The slot is back either way; bytes that could not be deleted are swept later (no slot).
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- the step's own error, as is
      if (failure !== undefined) throw failure;
      return reply.status(204).send(null);
    },
  );

  done();
};

export default uploadRoutes;
