import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import {
  getCompetitionSettings,
  listTeams,
  setTeamApproved,
  type CompetitionSettingsView,
  type Db,
} from "@holdout/db";
import { Nullable, ProblemSchema } from "@holdout/contracts/http";
import { Errors } from "../errors.ts";
import { organizerActor } from "../plugins/auth.ts";
import { IdParamsSchema, UUID } from "../schemas/common.ts";
import { disqualificationReason, type OrganizerService } from "../services/organizer.ts";

/** What organizers may change, with the bounds of each. */
const SettingsSchema = Type.Object({
  registrationOpen: Type.Boolean(),
  requireApproval: Type.Boolean(),
  quotaPerDay: Type.Integer({ minimum: 0, maximum: 1000 }),
  quotaTotal: Type.Integer({ minimum: 0, maximum: 100000 }),
  aucDecimals: Type.Integer({
    minimum: 1,
    maximum: 6,
    description: "released precision of every AUC and interval bound (official: 3)",
  }),
  radsDecimals: Type.Integer({
    minimum: 0,
    maximum: 3,
    description: "released precision of Num Rads Below Curve (official: 1)",
  }),
  ladder: Type.Boolean({
    description: "release a team's new score only when it significantly beats the team's best (Ladder)",
  }),
  publicFraction: Type.Union([Type.Number({ minimum: 0.1, maximum: 0.9 }), Type.Null()], {
    description:
      "public/private split: the share of test studies the leaderboard ranks on while open (a random part, drawn when set); null for none. Fixed once a submission is scored",
  }),
});

/** The settings as organizers read them: with the competition's state and the split's seed. */
const SettingsViewSchema = Type.Object({
  ...SettingsSchema.properties,
  state: Type.Union([Type.Literal("open"), Type.Literal("closed")]),
  closedAt: Type.Union([Type.String(), Type.Null()]),
  closedBy: Type.Union([Type.String(), Type.Null()]),
  splitSeed: Type.Union([Type.Integer(), Type.Null()], {
    description: "the seed that drew the public part (organizers only; never shown to teams)",
  }),
});

function settingsView(s: CompetitionSettingsView) {
  const { splitFraction, closedAt, ...rest } = s;
  return { ...rest, publicFraction: splitFraction, closedAt: closedAt?.toISOString() ?? null };
}

const TeamSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  institution: Type.Union([Type.String(), Type.Null()]),
  email: Type.Union([Type.String(), Type.Null()]),
  approved: Type.Boolean(),
  baseline: Type.Boolean({
    description: "an organizer's baseline (see /admin/baselines), not a participant",
  }),
  createdAt: Type.String(),
});

const JobCounts = Type.Record(Type.String(), Type.Integer());

const QueueSchema = Type.Object({
  jobs: Type.Object({ evaluate: JobCounts, rescore: JobCounts }),
  submissions: Type.Array(
    Type.Object({
      id: Type.String(),
      team: Type.Object({ id: Type.String(), name: Type.String() }),
      model: Type.String(),
      kind: Type.String(),
      state: Type.String(),
      position: Nullable(Type.Integer({ description: "place among queued submissions, 1 = next" })),
      estimatedStartAt: Nullable(Type.String()),
      createdAt: Type.String(),
      queuedAt: Nullable(Type.String()),
      startedAt: Nullable(Type.String()),
      worker: Nullable(Type.String()),
      heartbeatAt: Nullable(Type.String()),
      attempts: Type.Integer(),
      cancelRequestedAt: Nullable(Type.String()),
    }),
  ),
});

const WorkerSchema = Type.Object({
  name: Type.String(),
  host: Type.String(),
  pid: Type.Integer(),
  concurrency: Type.Integer(),
  running: Type.Integer(),
  startedAt: Type.String(),
  lastSeenAt: Type.String(),
  stale: Type.Boolean({ description: "no heartbeat for over a minute: not counted as taking work" }),
});

const DisqualificationSchema = Type.Object({
  id: Type.String(),
  disqualified: Type.Boolean(),
  reason: Nullable(Type.String()),
});

const iso = (d: Date | null) => d?.toISOString() ?? null;

/** Organizer-only: competition settings, team approval, the queue and workers, re-scoring, disqualification. */
const adminRoutes: FastifyPluginCallbackTypebox<{
  db: Db;
  competitionId: string;
  organizer: OrganizerService;
}> = (app, { db, competitionId, organizer }, done) => {
  app.get(
    "/admin/settings",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary:
          "The competition's settings: registration, quota, released precision, ladder, split; and its state",
        response: { 200: SettingsViewSchema, "4xx": ProblemSchema },
      },
    },
    async () => settingsView(await getCompetitionSettings(db, competitionId)),
  );

  app.patch(
    "/admin/settings",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary:
          "Change registration, the submission quota, the released precision, the ladder and the public/private split",
        description:
          "Each change is written to the audit log. The split is fixed once a submission is scored.",
        body: Type.Partial(SettingsSchema, { additionalProperties: false }),
        response: { 200: SettingsViewSchema, "4xx": ProblemSchema },
      },
    },
    async (request) => {
      const { publicFraction, ...rest } = request.body;
      const patch = { ...rest, ...(publicFraction !== undefined ? { splitFraction: publicFraction } : {}) };
      return settingsView(await organizer.updateSettings(organizerActor(request, competitionId), patch));
    },
  );

  app.get(
    "/admin/teams",
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
      `/admin/teams/:id/${action}`,
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
        const by = organizerActor(request, competitionId);
        if (!UUID.test(id) || !(await setTeamApproved(db, by, id, approved))) {
          throw new Errors.NotFound(`no team ${id}`);
        }
        return reply.status(204).send(null);
      },
    );
  }

  app.get(
    "/admin/queue",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary: "Submissions not yet final, in queue order, and the job queues' counts",
        response: { 200: QueueSchema, "4xx": ProblemSchema },
      },
    },
    async () => {
      const q = await organizer.queue();
      return {
        jobs: q.jobs,
        submissions: q.submissions.map((s) => ({
          id: s.id,
          team: s.team,
          model: s.modelName,
          kind: s.kind,
          state: s.state,
          position: s.position,
          estimatedStartAt: s.estimatedStartAt,
          createdAt: s.createdAt.toISOString(),
          queuedAt: iso(s.queuedAt),
          startedAt: iso(s.startedAt),
          worker: s.worker,
          heartbeatAt: iso(s.heartbeatAt),
          attempts: s.attempts,
          cancelRequestedAt: iso(s.cancelRequestedAt),
        })),
      };
    },
  );

  app.get(
    "/admin/workers",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary: "Worker processes, from their heartbeats",
        response: { 200: Type.Object({ workers: Type.Array(WorkerSchema) }), "4xx": ProblemSchema },
      },
    },
    async () => ({
      workers: (await organizer.workers()).map((w) => ({
        ...w,
        startedAt: w.startedAt.toISOString(),
        lastSeenAt: w.lastSeenAt.toISOString(),
      })),
    }),
  );

  app.post(
    "/admin/submissions/:id/rescore",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary: "Re-score a scored submission's stored predictions against the test set as it is now",
        params: IdParamsSchema,
        response: {
          202: Type.Object({ jobId: Type.String(), requestedAt: Type.String() }),
          "4xx": ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const by = organizerActor(request, competitionId);
      return reply.status(202).send(await organizer.rescore(request.params.id, by));
    },
  );

  app.post(
    "/admin/submissions/:id/disqualify",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary: "Disqualify an entry: it is never listed; the reason is shown to its team",
        params: IdParamsSchema,
        body: Type.Object(
          { reason: Type.String({ minLength: 1, maxLength: 500 }) },
          { additionalProperties: false },
        ),
        response: { 200: DisqualificationSchema, "4xx": ProblemSchema },
      },
    },
    async (request) => {
      const reason = disqualificationReason(request.body.reason);
      await organizer.setDisqualified(
        organizerActor(request, competitionId),
        request.params.id,
        true,
        reason,
      );
      await organizer.refreshTies(`submission ${request.params.id} disqualified`, request.log);
      return { id: request.params.id, disqualified: true, reason };
    },
  );

  app.post(
    "/admin/submissions/:id/requalify",
    {
      onRequest: app.requireOrganizer,
      schema: {
        summary: "Withdraw a disqualification",
        params: IdParamsSchema,
        response: { 200: DisqualificationSchema, "4xx": ProblemSchema },
      },
    },
    async (request) => {
      await organizer.setDisqualified(organizerActor(request, competitionId), request.params.id, false, null);
      await organizer.refreshTies(`submission ${request.params.id} requalified`, request.log);
      return { id: request.params.id, disqualified: false, reason: null };
    },
  );
  done();
};

export default adminRoutes;
