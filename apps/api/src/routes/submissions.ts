import { rm } from "node:fs/promises";
import path from "node:path";
import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import type { Queue } from "bullmq";
import { Type } from "typebox";
import { QUEUE_EVALUATE, evaluateJobOptions, type EvaluateJob } from "@holdout/contracts";
import {
  createSubmission,
  findSubmission,
  findSubmissionLog,
  listSubmissionEvents,
  listTeamSubmissions,
  markFailed,
  markQueued,
  type Db,
} from "@holdout/db";
import { Errors } from "../errors.ts";
import { currentTeam } from "../plugins/auth.ts";
import {
  AcceptedSchema,
  IdParamsSchema,
  ProblemSchema,
  PublicSubmissionSchema,
  SubmissionSchema,
} from "../schemas.ts";
import { receiveUpload } from "../services/upload.ts";
import { ownerView, submissionUrl } from "../services/submission-view.ts";

export interface SubmissionRoutesOptions {
  db: Db;
  queue: Queue<EvaluateJob>;
  uploadsDir: string;
  competitionId: string;
  aucFloor: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const submissionRoutes: FastifyPluginCallbackTypebox<SubmissionRoutesOptions> = (app, opts, done) => {
  const { db, queue, uploadsDir } = opts;

  app.post(
    "/api/v1/submissions",
    {
      onRequest: app.requireTeam,
      schema: {
        summary: "Submit a model (multipart: model, description?, link?, ensemble?, then file `image`)",
        consumes: ["multipart/form-data"],
        response: { 202: AcceptedSchema, "4xx": ProblemSchema, "5xx": ProblemSchema },
      },
    },
    async (request, reply) => {
      const team = currentTeam(request);
      const upload = await receiveUpload(request, uploadsDir);
      const filePath = path.join(uploadsDir, upload.fileName);
      try {
        await createSubmission(db, {
          id: upload.id,
          competitionId: opts.competitionId,
          teamId: team.id,
          modelName: upload.fields.model,
          description: upload.fields.description || null,
          link: upload.fields.link || null,
          ensemble: upload.fields.ensemble ?? false,
          uploadFile: upload.fileName,
          uploadSize: upload.size,
          uploadSha256: upload.sha256,
        });
      } catch (err) {
        await rm(filePath, { force: true });
        throw err;
      }
      // Queued before the job exists, so a fast worker always finds the state it expects.
      await markQueued(db, upload.id);
      try {
        await queue.add(QUEUE_EVALUATE, { submissionId: upload.id }, evaluateJobOptions(upload.id));
      } catch (err) {
        request.log.error({ err, submissionId: upload.id }, "could not enqueue submission");
        await markFailed(db, upload.id, "infrastructure", "the job queue was unavailable; it is not charged");
        await rm(filePath, { force: true });
        throw new Errors.Unavailable("the job queue is unavailable; nothing was charged, please retry");
      }
      const statusUrl = submissionUrl(upload.id);
      return reply
        .status(202)
        .header("location", statusUrl)
        .send({ id: upload.id, state: "queued", statusUrl });
    },
  );

  app.get(
    "/api/v1/submissions",
    {
      onRequest: app.requireTeam,
      schema: {
        summary: "The calling team's submissions, newest first",
        response: { 200: Type.Object({ submissions: Type.Array(SubmissionSchema) }), "4xx": ProblemSchema },
      },
    },
    async (request) => {
      const team = currentTeam(request);
      const rows = await listTeamSubmissions(db, team.id);
      return {
        submissions: rows.map((r) =>
          ownerView({ ...r, team: { id: team.id, name: team.name, institution: null } }),
        ),
      };
    },
  );

  /** The owner's submission, or null: others learn nothing, not even that the id exists. */
  async function ownSubmission(id: string, teamId: string | undefined) {
    if (!UUID.test(id)) return null;
    const s = await findSubmission(db, id);
    return s && s.competitionId === opts.competitionId && s.teamId === teamId ? s : null;
  }

  app.get(
    "/api/v1/submissions/:id",
    {
      schema: {
        summary: "A submission: everything for its team; the leaderboard fields for anyone if listed",
        params: IdParamsSchema,
        response: {
          200: Type.Union([SubmissionSchema, PublicSubmissionSchema]),
          "4xx": ProblemSchema,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const s = UUID.test(id) ? await findSubmission(db, id) : null;
      if (s && s.competitionId === opts.competitionId) {
        if (request.team && s.teamId === request.team.id) return ownerView(s);
        const listed = s.state === "scored" && !s.hidden && (s.meanAuc ?? 0) >= opts.aucFloor;
        if (listed) {
          return {
            id: s.id,
            team: s.team.name,
            model: s.modelName,
            link: s.link,
            ensemble: s.ensemble,
            meanAuc: s.meanAuc ?? 0,
            meanRadsBelowCurve: s.meanRadsBelowCurve ?? 0,
            tasks: s.results.map((r) => ({ task: r.task, auc: r.auc, radsBelowCurve: r.radsBelowCurve })),
            createdAt: s.createdAt.toISOString(),
          };
        }
      }
      throw new Errors.NotFound(`no submission ${id}`);
    },
  );

  app.get(
    "/api/v1/submissions/:id/log",
    {
      onRequest: app.requireTeam,
      schema: {
        summary: "The run's log (stdout and stderr, capped), for the submitting team",
        params: IdParamsSchema,
        response: {
          200: Type.Object({ text: Type.String(), truncated: Type.Boolean() }),
          "4xx": ProblemSchema,
        },
      },
    },
    async (request) => {
      const s = await ownSubmission(request.params.id, request.team?.id);
      if (!s) throw new Errors.NotFound(`no submission ${request.params.id}`);
      const log = await findSubmissionLog(db, s.id);
      return { text: log?.text ?? "", truncated: log?.truncated ?? false };
    },
  );

  app.get(
    "/api/v1/submissions/:id/events",
    {
      onRequest: app.requireTeam,
      schema: {
        summary: "The submission's timeline: every state change",
        params: IdParamsSchema,
        response: {
          200: Type.Object({
            events: Type.Array(
              Type.Object({
                at: Type.String(),
                state: Type.String(),
                detail: Type.Union([Type.String(), Type.Null()]),
              }),
            ),
          }),
          "4xx": ProblemSchema,
        },
      },
    },
    async (request) => {
      const s = await ownSubmission(request.params.id, request.team?.id);
      if (!s) throw new Errors.NotFound(`no submission ${request.params.id}`);
      const events = await listSubmissionEvents(db, s.id);
      return { events: events.map((e) => ({ at: e.at.toISOString(), state: e.state, detail: e.detail })) };
    },
  );
  done();
};

export default submissionRoutes;
