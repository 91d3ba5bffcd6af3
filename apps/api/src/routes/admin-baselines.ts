import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import {
  AcceptedSchema,
  BaselineInputSchema,
  BaselineListSchema,
  BaselineSchema,
  ProblemSchema,
} from "@holdout/contracts/http";
import { organizerActor } from "../plugins/auth.ts";
import { IdParamsSchema } from "../schemas/common.ts";
import { baselineView, type BaselineService } from "../services/baselines.ts";
import { assertMultipart, receiveUpload } from "../services/multipart-upload.ts";
import { submissionUrl } from "../services/submission-view.ts";

/** Organizer-only: baselines, and their entries' uploads (services/baselines.ts). */
const adminBaselineRoutes: FastifyPluginCallbackTypebox<{
  competitionId: string;
  baselines: BaselineService;
}> = (app, { competitionId, baselines }, done) => {
  app.get(
    "/admin/baselines",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary: "The competition's baselines, with how many entries each has",
        response: { 200: BaselineListSchema, "4xx": ProblemSchema },
      },
    },
    async () => ({ baselines: (await baselines.list()).map(baselineView) }),
  );

  app.post(
    "/admin/baselines",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary:
          "Create a baseline (201), or find the one of that name (200); its institution is updated if given",
        description:
          "A baseline is shown as the team of its entries on the leaderboard (e.g. `Stanford Baseline`). Nobody signs in as it; its entries count against no quota, are ranked like any entry, but never lead for the tie marks. A participating team's name is refused (409).",
        body: BaselineInputSchema,
        response: { 200: BaselineSchema, 201: BaselineSchema, "4xx": ProblemSchema },
      },
    },
    async (request, reply) => {
      const { team, created } = await baselines.ensure(organizerActor(request, competitionId), request.body);
      return reply.status(created ? 201 : 200).send(baselineView(team));
    },
  );

  app.post(
    "/admin/baselines/:id/submissions",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary:
          "Submit a baseline entry (multipart, as a team submits: model, description?, link?, ensemble?, command?, then file `image` or `bundle`)",
        description:
          "The same checks, run and scoring as a team's upload; no quota. The entry's page and status are at the returned `statusUrl` (organizers only, like the baseline's whole detail; the public sees its leaderboard row).",
        consumes: ["multipart/form-data"],
        params: IdParamsSchema,
        response: { 202: AcceptedSchema, "4xx": ProblemSchema, "5xx": ProblemSchema },
      },
    },
    async (request, reply) => {
      assertMultipart(request);
      const by = organizerActor(request, competitionId);
      const accepted = await baselines.submit(by, request.params.id, request.log, (target) =>
        receiveUpload(request, target),
      );
      const statusUrl = submissionUrl(accepted.id, app.prefix);
      return reply
        .status(202)
        .header("location", statusUrl)
        .send({ ...accepted, statusUrl });
    },
  );
  done();
};

export default adminBaselineRoutes;
