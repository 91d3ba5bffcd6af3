import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import {
  getCompetitionSettings,
  listTeams,
  setTeamApproved,
  updateCompetitionSettings,
  type Db,
} from "@holdout/db";
import { Errors } from "../errors.ts";
import { IdParamsSchema, ProblemSchema, UUID } from "../schemas.ts";

const SettingsSchema = Type.Object({
  registrationOpen: Type.Boolean(),
  requireApproval: Type.Boolean(),
  quotaPerDay: Type.Integer({ minimum: 0, maximum: 1000 }),
  quotaTotal: Type.Integer({ minimum: 0, maximum: 100000 }),
});

const TeamSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  institution: Type.Union([Type.String(), Type.Null()]),
  email: Type.Union([Type.String(), Type.Null()]),
  approved: Type.Boolean(),
  createdAt: Type.String(),
});

/** Organizer-only: competition settings and team approval. */
const adminRoutes: FastifyPluginCallbackTypebox<{ db: Db; competitionId: string }> = (
  app,
  { db, competitionId },
  done,
) => {
  app.get(
    "/api/v1/admin/settings",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary: "The competition's registration and quota settings",
        response: { 200: SettingsSchema, "4xx": ProblemSchema },
      },
    },
    () => getCompetitionSettings(db, competitionId),
  );

  app.patch(
    "/api/v1/admin/settings",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary: "Change registration (open/closed, approval) and the submission quota",
        body: Type.Partial(SettingsSchema, { additionalProperties: false }),
        response: { 200: SettingsSchema, "4xx": ProblemSchema },
      },
    },
    (request) => updateCompetitionSettings(db, competitionId, request.body),
  );

  app.get(
    "/api/v1/admin/teams",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary: "Every team, with its contact email and approval",
        response: { 200: Type.Object({ teams: Type.Array(TeamSchema) }), "4xx": ProblemSchema },
      },
    },
    async () => {
      const teams = await listTeams(db, competitionId);
      return {
        teams: teams.map(({ contactEmail, createdAt, ...t }) => ({
          ...t,
          email: contactEmail,
          createdAt: createdAt.toISOString(),
        })),
      };
    },
  );

  for (const [action, approved] of [
    ["approve", true],
    ["unapprove", false],
  ] as const) {
    app.post(
      `/api/v1/admin/teams/:id/${action}`,
      {
        onRequest: app.requireOrganizer,
        schema: {
          summary: approved ? "Approve a team: it may submit" : "Withdraw a team's approval",
          params: IdParamsSchema,
          response: { 204: Type.Null(), "4xx": ProblemSchema },
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        if (!UUID.test(id) || !(await setTeamApproved(db, competitionId, id, approved))) {
          throw new Errors.NotFound(`no team ${id}`);
        }
        return reply.status(204).send(null);
      },
    );
  }
  done();
};

export default adminRoutes;
