import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import type { Upload } from "@tus/server";
import type { Queue } from "bullmq";
import type { FastifyReply, FastifyRequest } from "fastify";
import { NodeRequest } from "srvx/node";
import { Type } from "typebox";
import type { EvaluateJob } from "@holdout/contracts";
import { releaseQuotaSlot, reserveQuotaSlot, type Db } from "@holdout/db";
import { Errors } from "../errors.ts";
import { currentTeam } from "../plugins/auth.ts";
import { IdParamsSchema, ProblemSchema, UUID } from "../schemas.ts";
import type { BundleLimits } from "../services/bundle.ts";
import { quotaError } from "../services/quota.ts";
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
  UPLOADS_PATH,
} from "../services/resumable.ts";
import { submissionUrl } from "../services/submission-view.ts";
import { ingestStoredFile, recordUpload } from "../services/upload.ts";
import { enqueueSubmission, refuseUnrunnableCommand } from "./submissions.ts";

export interface UploadRoutesOptions {
  db: Db;
  queue: Queue<EvaluateJob>;
  dataDir: string;
  competitionId: string;
  maxUploadBytes: number;
  bundleLimits: BundleLimits;
  /** How long a quota slot (and so an unfinished upload) lives after its last chunk. */
  reservationTtlMs: number;
  /** How often abandoned uploads are looked for (they are also swept at start). */
  sweepIntervalMs: number;
}

/** What one request carries between our checks and tus's hooks. */
interface Exchange {
  teamId: string;
  id: string;
  /** A rejection raised inside a tus hook, answered as problem+json instead of tus's text. */
  error?: unknown;
}

const TUS_HEADERS = Type.Object({
  "upload-length": Type.Optional(Type.String({ maxLength: 20 })),
  "upload-metadata": Type.Optional(Type.String({ maxLength: 16 * 1024 })),
});

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
    case 413:
      return new Errors.UploadTooLarge(`${detail}: the file exceeds the size limit for submissions`);
    default:
      return Object.assign(new Errors.UploadProtocol(`tus: ${detail}`), { statusCode: status });
  }
}

const uploadRoutes: FastifyPluginCallbackTypebox<UploadRoutesOptions> = (app, opts, done) => {
  const { db, dataDir } = opts;
  const dir = resumableDirOf(dataDir);
  const exchanges = new WeakMap<Request, Exchange>();

  const tus = createTusServer(dir, opts.maxUploadBytes, {
    idFor: (req) => exchangeOf(req).id,
    onFinish: async (req, upload) => {
      const exchange = exchangeOf(req);
      try {
        return await accept(exchange, upload);
      } catch (err) {
        // Nothing of a refused upload stays: not its bytes, not its quota slot.
        await removeResumable(dir, upload.id);
        await releaseQuotaSlot(db, upload.id);
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

  /** The finished file goes the multipart way: same checks, same record, same queue. */
  async function accept(exchange: Exchange, upload: Upload): Promise<Record<string, string>> {
    const { kind, fields } = storedMetadata(upload);
    const received = await ingestStoredFile(path.join(dir, upload.id), kind, fields, {
      id: upload.id,
      dataDir,
      bundleLimits: opts.bundleLimits,
    });
    await removeResumable(dir, upload.id);
    if (received.kind === "bundle") await refuseUnrunnableCommand(dataDir, received);
    await recordUpload(db, dataDir, { competitionId: opts.competitionId, teamId: exchange.teamId }, received);
    const state = await enqueueSubmission({ db, queue: opts.queue, dataDir, log: app.log }, received);
    return { "Holdout-Submission-Id": upload.id, "Holdout-Submission-State": state };
  }

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
    return { status: res.status, headers, body };
  }

  function send(reply: FastifyReply, answer: Awaited<ReturnType<typeof forward>>) {
    return reply
      .status(answer.status)
      .headers(answer.headers)
      .send(answer.body === "" ? undefined : answer.body);
  }

  /** The caller's upload in progress (its reservation), renewed; 404 for anyone else's. */
  async function ownUpload(request: FastifyRequest, id: string): Promise<Exchange> {
    const team = currentTeam(request);
    if (UUID.test(id)) {
      const { count } = await db.quotaReservation.updateMany({
        where: { id, teamId: team.id, expiresAt: { gt: new Date() } },
        data: { expiresAt: new Date(Date.now() + opts.reservationTtlMs) },
      });
      if (count === 1) return { teamId: team.id, id };
    }
    throw new Errors.NotFound(`no upload in progress ${id} (finished, expired, or never created)`);
  }

  /**
   * An upload in progress when the competition closed can never become a submission: its next chunk
   * is refused, and its bytes and quota slot go at once rather than at the sweep.
   */
  async function refuseIfClosedUpload(exchange: Exchange): Promise<void> {
    try {
      await refuseIfClosed(db, opts.competitionId);
    } catch (err) {
      await removeResumable(dir, exchange.id);
      await releaseQuotaSlot(db, exchange.id);
      throw err;
    }
  }

  // tus sends chunks as application/offset+octet-stream; tus reads the body itself.
  app.addContentTypeParser("application/offset+octet-stream", (_request, _payload, parsed) => parsed(null));

  const stopSweeper = startUploadSweeper(db, dataDir, opts.sweepIntervalMs, app.log);
  app.addHook("onClose", () => stopSweeper());

  app.post(
    UPLOADS_PATH,
    {
      onRequest: app.requireTeam,
      schema: {
        summary: "Start a resumable upload (tus 1.0 creation)",
        description:
          "Headers: `Tus-Resumable: 1.0.0`, `Upload-Length` (or `Upload-Defer-Length: 1`), `Upload-Metadata` with base64 values: `model` (required), `description`, `link`, `ensemble`, `kind` (`image`, default, or `bundle`), `command` (bundles). Takes a quota slot; 201 with `Location` for the PATCH requests. The last PATCH answers `Holdout-Submission-Id`.",
        headers: TUS_HEADERS,
        response: { "4xx": ProblemSchema, "5xx": ProblemSchema },
      },
    },
    async (request, reply) => {
      const team = currentTeam(request);
      if (request.principal?.role === "team" && !request.principal.team.approved) {
        throw new Errors.TeamNotApproved(
          "your team is registered but not approved yet: an organizer must approve it before it can submit",
        );
      }
      parseUploadMetadata(request.headers["upload-metadata"]);
      await refuseIfClosed(db, opts.competitionId);
      const declared = request.headers["upload-length"];
      if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > opts.maxUploadBytes) {
        throw new Errors.UploadTooLarge(
          `Upload-Length ${declared} exceeds the size limit for submissions (${opts.maxUploadBytes} bytes)`,
        );
      }
      const id = randomUUID();
      const reservation = await reserveQuotaSlot(db, {
        teamId: team.id,
        reservationId: id,
        ttlMs: opts.reservationTtlMs,
      });
      if (!reservation.ok) throw quotaError(reservation.status);
      try {
        await mkdir(dir, { recursive: true });
        return send(reply, await forward(request, reply, { teamId: team.id, id }));
      } catch (err) {
        await removeResumable(dir, id);
        await releaseQuotaSlot(db, id);
        throw err;
      }
    },
  );

  app.route({
    method: "HEAD",
    url: `${UPLOADS_PATH}/:id`,
    onRequest: app.requireTeam,
    schema: {
      summary: "How much of a resumable upload the server has (Upload-Offset)",
      description:
        "For an upload that already became a submission, `Upload-Offset` equals `Upload-Length` and `Holdout-Submission-Id` names it (its final answer was lost).",
      params: IdParamsSchema,
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      const team = currentTeam(request);
      if (UUID.test(id)) {
        const done = await db.submission.findFirst({
          where: { id, teamId: team.id, competitionId: opts.competitionId },
          select: { uploadSize: true, state: true },
        });
        if (done) {
          const size = done.uploadSize.toString();
          return reply
            .status(200)
            .headers({
              "tus-resumable": "1.0.0",
              "upload-offset": size,
              "upload-length": size,
              "cache-control": "no-store",
              "holdout-submission-id": id,
              "holdout-submission-state": done.state,
              location: submissionUrl(id),
            })
            .send();
        }
      }
      return send(reply, await forward(request, reply, await ownUpload(request, id)));
    },
  });

  app.patch(
    `${UPLOADS_PATH}/:id`,
    {
      onRequest: app.requireTeam,
      schema: {
        summary: "Send the next chunk of a resumable upload (at Upload-Offset)",
        params: IdParamsSchema,
        response: { "4xx": ProblemSchema, "5xx": ProblemSchema },
      },
    },
    async (request, reply) => {
      const exchange = await ownUpload(request, request.params.id);
      await refuseIfClosedUpload(exchange);
      const from = Number(request.headers["upload-offset"] ?? "-1");
      try {
        const answer = await forward(request, reply, exchange);
        // The first bytes decide the format: a wrong file is refused after one chunk, not 5 GB.
        if (from >= 0 && from < 512 && answer.status === 204) await checkHead(exchange.id);
        return send(reply, answer);
      } catch (err) {
        // Over the size cap, an upload can never finish: free its disk and its quota slot now.
        if ((err as { statusCode?: number }).statusCode === 413) {
          await removeResumable(dir, exchange.id);
          await releaseQuotaSlot(db, exchange.id);
        }
        throw err;
      }
    },
  );

  async function checkHead(id: string) {
    const upload = await tus.datastore.getUpload(id).catch(() => null);
    if (!upload) return;
    const rejection = headRejection(storedMetadata(upload).kind, await readHead(dir, id));
    if (rejection) {
      await removeResumable(dir, id);
      await releaseQuotaSlot(db, id);
      throw rejection;
    }
  }

  app.delete(
    `${UPLOADS_PATH}/:id`,
    {
      onRequest: app.requireTeam,
      schema: {
        summary: "Abandon a resumable upload: its bytes are deleted and its quota slot given back",
        params: IdParamsSchema,
        response: { 204: Type.Null(), "4xx": ProblemSchema, "5xx": ProblemSchema },
      },
    },
    async (request, reply) => {
      const exchange = await ownUpload(request, request.params.id);
      await removeResumable(dir, exchange.id);
      await releaseQuotaSlot(db, exchange.id);
      return reply.status(204).header("tus-resumable", "1.0.0").send(null);
    },
  );

  done();
};

export default uploadRoutes;
