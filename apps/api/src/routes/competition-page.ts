import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { CompetitionPageSchema, ProblemSchema } from "@holdout/contracts/http";
import type { Db } from "@holdout/db";
import { Errors } from "../errors.ts";
import { organizerActor } from "../plugins/auth.ts";
import {
  editCompetitionProse,
  PROSE_MAX_CHARS,
  type CompetitionPageSource,
} from "../services/competition-page.ts";

const Prose = (what: string) =>
  Type.Optional(
    Type.String({
      maxLength: PROSE_MAX_CHARS,
      description: `${what} (Markdown; raw HTML is shown as text). Empty: the standard text.`,
    }),
  );

/**
 * `GET /competition`: the competition page as JSON, for anyone; `PATCH /admin/competition/page`:
 * organizers edit its prose and the terms.
 */
const competitionPageRoutes: FastifyPluginCallbackTypebox<{
  db: Db;
  competitionId: string;
  page: CompetitionPageSource;
}> = (app, { db, competitionId, page }, done) => {
  app.get(
    "/competition",
    {
      schema: {
        summary:
          "The competition page: task, data, metric, limits in force, runtime packages, quota, phases, terms",
        description:
          "What a participant needs before a first submission, read from where it is set: the organizers' prose (Markdown), the metric and its rules, the released precision, the listing floor, how to take part (with the one line that installs the `holdout` command from this server), the limits the live workers apply (memory, CPUs, time, output size, network, GPUs), the runtime image's packages for code bundles (as a worker listed them), the quota, the phases with their dates, and the data-use terms. The benchmark radiologists' operating points on the hidden set are published when the competition closes. The HTML page is `/competition` (`/c/{slug}/competition`).",
        response: { 200: CompetitionPageSchema, "4xx": ProblemSchema },
      },
    },
    async (request) => {
      const body = await page.read(`${request.protocol}://${request.host}`);
      if (!body) throw new Errors.NotFound("this competition no longer exists");
      return body;
    },
  );

  app.patch(
    "/admin/competition/page",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary: "Edit the competition page's prose and the terms (organizers)",
        description:
          "Each part given replaces the current one (Markdown; an empty one puts the standard text back); parts not given are kept. The change is audited (`competition.page`) and shows at once.",
        body: Type.Object(
          {
            overview: Prose("What the competition is about"),
            data: Prose("The data and how to get it"),
            rules: Prose("The rules beyond the metric"),
            terms: Prose("The data-use terms teams accept when they register"),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            overview: Type.Union([Type.String(), Type.Null()]),
            data: Type.Union([Type.String(), Type.Null()]),
            rules: Type.Union([Type.String(), Type.Null()]),
            terms: Type.Union([Type.String(), Type.Null()]),
          }),
          "4xx": ProblemSchema,
        },
      },
    },
    async (request) => {
      const saved = await editCompetitionProse(db, organizerActor(request, competitionId), request.body);
      return {
        overview: saved.pageOverview,
        data: saved.pageData,
        rules: saved.pageRules,
        terms: saved.terms,
      };
    },
  );
  done();
};

export default competitionPageRoutes;
