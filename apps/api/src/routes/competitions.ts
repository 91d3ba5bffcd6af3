import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { PHASE_LINE_FORMAT } from "@holdout/contracts";
import { CompetitionListSchema, ProblemSchema } from "@holdout/contracts/http";
import type { Db } from "@holdout/db";
import { Errors } from "../errors.ts";
import { currentPrincipal } from "../plugins/auth.ts";
import { PROSE_MAX_CHARS } from "../services/competition-page.ts";
import { createCompetitionFromForm } from "../services/competition-setup.ts";
import { competitionBase } from "../services/competition-base.ts";
import { competitionSummaries } from "../services/competitions.ts";

const NewCompetitionSchema = Type.Object(
  {
    slug: Type.String({ maxLength: 63, description: "lowercase letters, digits and -" }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    testsetDir: Type.String({ minLength: 1, maxLength: 4096, description: "absolute path on the server" }),
    devsetDir: Type.Optional(Type.String({ maxLength: 4096 })),
    scorer: Type.Optional(Type.Union([Type.Literal("chexpert"), Type.Literal("mean-auc")])),
    terms: Type.Optional(
      Type.String({
        maxLength: PROSE_MAX_CHARS,
        description:
          "the data-use terms teams accept when they register (Markdown); default: the server's standard text",
      }),
    ),
    phases: Type.Optional(
      Type.Array(Type.String({ maxLength: 500 }), {
        maxItems: 50,
        description: `one per phase, ${PHASE_LINE_FORMAT}; default one ranked hidden-set phase open from now`,
      }),
    ),
  },
  { additionalProperties: false },
);

/** `GET /api/v1/competitions`: every competition on this server, for anyone. */
const competitionListRoutes: FastifyPluginCallbackTypebox<{ db: Db }> = (app, { db }, done) => {
  app.get(
    "/competitions",
    {
      schema: {
        summary: "The competitions on this server",
        description:
          "Each with its scorer, where it stands and its current and next phase. A competition's own API is under `/api/v1/competitions/{slug}` (leaderboard, teams, submissions, uploads: the same routes as the top-level ones, which serve the default competition), its pages under `/c/{slug}/`.",
        response: { 200: CompetitionListSchema },
      },
    },
    async () => ({ competitions: await competitionSummaries(db) }),
  );

  app.post(
    "/admin/competitions",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary: "Create a competition (organizers)",
        description:
          "As `holdout competition create`: the test set (and development set) validated and hashed, the scorer the test set's manifest names (`scorer`, if given, must agree), the phases checked together. 400 `HOLDOUT_ERR_INVALID_FIELD` names the field and what is wrong; nothing is created then.",
        body: NewCompetitionSchema,
        response: {
          201: Type.Object({ slug: Type.String(), api: Type.String(), pages: Type.String() }),
          "4xx": ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const principal = currentPrincipal(request);
      const actor = principal.role === "organizer" ? `organizer:${principal.account.email}` : "unknown";
      const b = request.body;
      const created = await createCompetitionFromForm(db, actor, {
        slug: b.slug,
        name: b.name,
        testsetDir: b.testsetDir,
        devsetDir: b.devsetDir ?? "",
        scorer: b.scorer ?? "",
        phases: (b.phases ?? ["Hidden test set,hidden,now,"]).join("\n"),
        terms: b.terms ?? "",
      });
      if (!created.ok) {
        const [field, message] = Object.entries(created.errors)[0] ?? ["form", "refused"];
        throw new Errors.InvalidField(`${field}: ${message}`);
      }
      const base = competitionBase(created.slug);
      return reply.status(201).send({ slug: created.slug, api: base.api, pages: `${base.pages}/` });
    },
  );
  done();
};

export default competitionListRoutes;
