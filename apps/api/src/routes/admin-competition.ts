import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { PHASE_LINE_FORMAT } from "@holdout/contracts";
import { listAudit, phaseJson, type Db } from "@holdout/db";
import { ProblemSchema } from "@holdout/contracts/http";
import { Errors } from "../errors.ts";
import { organizerActor } from "../plugins/auth.ts";
import { replacePhasesFromLines } from "../services/competition-setup.ts";
import { auditEventView, type OrganizerService } from "../services/organizer.ts";

const AuditEventSchema = Type.Object({
  id: Type.String({ description: "increasing; pass as `before` to page back" }),
  at: Type.String(),
  actor: Type.String({
    description: "organizer:<email>, or cli:<user>@<host> for the server's command line",
  }),
  action: Type.String(),
  target: Type.Union([Type.Object({ type: Type.String(), id: Type.String() }), Type.Null()]),
  detail: Type.Union([Type.String(), Type.Null()]),
});

/** Organizer-only: the plan of phases, closing the competition, and the audit log of every organizer action. */
const competitionAdminRoutes: FastifyPluginCallbackTypebox<{
  db: Db;
  competitionId: string;
  /** The competition's slug: what closing must be confirmed with. */
  slug: string;
  organizer: OrganizerService;
}> = (app, { db, competitionId, slug, organizer }, done) => {
  app.post(
    "/admin/competition/close",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary:
          "Close the competition: uploads are refused, hidden-set curves are published (cannot be undone)",
        description:
          "`confirm` must be the competition's slug. With a public/private split, each team without a final choice gets its best public entry as final, and the final board ranks the finals on the private part.",
        body: Type.Object({ confirm: Type.String({ maxLength: 200 }) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            state: Type.Literal("closed"),
            closedAt: Type.String(),
            closedBy: Type.String(),
          }),
          "4xx": ProblemSchema,
        },
      },
    },
    async (request) => {
      if (request.body.confirm !== slug) {
        throw new Errors.ConfirmationRequired(
          `closing cannot be undone: send {"confirm": "${slug}"} (the competition's slug) to close it`,
        );
      }
      const closed = await organizer.closeCompetition(organizerActor(request, competitionId), request.log);
      return { state: "closed" as const, closedAt: closed.closedAt.toISOString(), closedBy: closed.closedBy };
    },
  );

  app.put(
    "/admin/competition/phases",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary:
          "Replace the competition's plan of phases (move dates, end the open phase early, add phases)",
        description:
          "As `holdout competition phases SLUG --phase …`: every phase in order, started ones included. Phases that have started keep their name, data, feedback, ranking and start; the open one may end sooner or later, never in the past; phases to come are replaced. 400 `HOLDOUT_ERR_INVALID_FIELD` names the line or phase and what is wrong, and nothing changes; 409 once the competition is closed.",
        body: Type.Object(
          {
            phases: Type.Array(Type.String({ maxLength: 500 }), {
              minItems: 1,
              maxItems: 50,
              description: `one per phase, ${PHASE_LINE_FORMAT}`,
            }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            phases: Type.Array(
              Type.Object({
                ordinal: Type.Integer(),
                name: Type.String(),
                data: Type.String(),
                feedback: Type.String(),
                ranked: Type.Boolean(),
                startsAt: Type.String(),
                endsAt: Type.Union([Type.String(), Type.Null()]),
              }),
            ),
            changes: Type.Array(Type.String()),
          }),
          "4xx": ProblemSchema,
        },
      },
    },
    async (request) => {
      const actor = organizerActor(request, competitionId);
      const result = await replacePhasesFromLines(db, actor.actor, competitionId, request.body.phases);
      if (!result.ok) {
        throw result.closed
          ? new Errors.CompetitionClosed(result.message)
          : new Errors.InvalidField(result.message);
      }
      return { phases: result.phases.map(phaseJson), changes: result.changes };
    },
  );

  app.get(
    "/admin/audit",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary: "The audit log: every organizer action, newest first",
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
          before: Type.Optional(Type.String({ pattern: "^[0-9]{1,19}$" })),
        }),
        response: { 200: Type.Object({ events: Type.Array(AuditEventSchema) }), "4xx": ProblemSchema },
      },
    },
    async (request) => {
      const { limit, before } = request.query;
      const rows = await listAudit(db, competitionId, {
        limit: limit ?? 100,
        ...(before !== undefined ? { before: BigInt(before) } : {}),
      });
      return { events: rows.map(auditEventView) };
    },
  );

  done();
};

export default competitionAdminRoutes;
