import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import { findSubmission, findSubmissionLog, listSubmissionEvents, type Db } from "@holdout/db";
import { Errors } from "../errors.ts";
import { CurvesSchema, IdParamsSchema, ProblemSchema, UUID } from "../schemas.ts";
import { canSeeWhole } from "./submissions.ts";

// What only a submission's team and the organizers may read: its log, timeline and ROC curves.
// Everyone else gets 404 for any id, listed or not.
const submissionDetailRoutes: FastifyPluginCallbackTypebox<{ db: Db; competitionId: string }> = (
  app,
  { db, competitionId },
  done,
) => {
  async function wholeSubmission(request: FastifyRequest, id: string) {
    const s = UUID.test(id) ? await findSubmission(db, id) : null;
    if (!s || s.competitionId !== competitionId || !canSeeWhole(request, s)) {
      throw new Errors.NotFound(`no submission ${id}`);
    }
    return s;
  }

  app.get(
    "/api/v1/submissions/:id/log",
    {
      onRequest: app.requireAuth,
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
      const s = await wholeSubmission(request, request.params.id);
      const log = await findSubmissionLog(db, s.id);
      return { text: log?.text ?? "", truncated: log?.truncated ?? false };
    },
  );

  app.get(
    "/api/v1/submissions/:id/events",
    {
      onRequest: app.requireAuth,
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
      const s = await wholeSubmission(request, request.params.id);
      const events = await listSubmissionEvents(db, s.id);
      return { events: events.map((e) => ({ at: e.at.toISOString(), state: e.state, detail: e.detail })) };
    },
  );

  app.get(
    "/api/v1/submissions/:id/curves",
    {
      onRequest: app.requireAuth,
      schema: {
        summary: "The ROC curve of every task, as the scorer built it",
        params: IdParamsSchema,
        response: { 200: CurvesSchema, "4xx": ProblemSchema },
      },
    },
    async (request) => {
      const s = await wholeSubmission(request, request.params.id);
      return {
        tasks: s.results.map((r) => ({ task: r.task, auc: r.auc, roc: r.roc as [number, number][] })),
      };
    },
  );
  done();
};

export default submissionDetailRoutes;
