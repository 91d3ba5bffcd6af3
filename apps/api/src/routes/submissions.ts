import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import {
  findSubmission,
  isCompetitionTeam,
  listCompetitionSubmissions,
  listTeamSubmissions,
  quotaStatus,
  setSubmissionHidden,
  type Db,
} from "@holdout/db";
import {
  AcceptedSchema,
  ProblemSchema,
  PublicSubmissionSchema,
  QuotaSchema,
  SubmissionDetailSchema,
  SubmissionSchema,
  type SubmissionDetail,
} from "@holdout/contracts/http";
import { Errors } from "../errors.ts";
import { auditOf, currentPrincipal, currentTeam } from "../plugins/auth.ts";
import { IdParamsSchema, UUID } from "../schemas/common.ts";
import type { Intake } from "../services/intake.ts";
import { assertMultipart, receiveUpload } from "../services/multipart-upload.ts";
import type { OrganizerService } from "../services/organizer.ts";
import { quotaView } from "../services/quota.ts";
import { queueEstimateOf } from "../services/queue-position.ts";
import { currentRelease, isPublicEntry } from "../services/release.ts";
import { canSeeWhole, originOf, ownerView, publicView, submissionUrl } from "../services/submission-view.ts";

export interface SubmissionRoutesOptions {
  db: Db;
  competitionId: string;
  aucFloor: number;
  /** Where uploads become submissions (shared with the resumable uploads). */
  intake: Intake;
  /** Recomputes the "tied with the leader" marks (hiding or showing an entry changes the board). */
  organizer: Pick<OrganizerService, "refreshTies">;
}

type SubmissionRow = NonNullable<Awaited<ReturnType<typeof findSubmission>>>;

const submissionRoutes: FastifyPluginCallbackTypebox<SubmissionRoutesOptions> = (app, opts, done) => {
  const { db, intake } = opts;

  async function findHere(id: string): Promise<SubmissionRow | null> {
    if (!UUID.test(id)) return null;
    const s = await findSubmission(db, id);
    return s && s.competitionId === opts.competitionId ? s : null;
  }

  /** A submission the caller may see whole, or 404. */
  async function wholeSubmission(request: FastifyRequest, id: string): Promise<SubmissionRow> {
    const s = await findHere(id);
    if (!s || !canSeeWhole(request.principal, s)) throw new Errors.NotFound(`no submission ${id}`);
    return s;
  }

  app.post(
    "/submissions",
    {
      onRequest: app.requireTeam,
      schema: {
        summary:
          "Submit a model (multipart: model, description?, link?, ensemble?, command?, then file `image` or `bundle`)",
        description:
          "`image`: a `docker save` tarball (plain or gzipped). `bundle`: a zip or tar.gz of code, run in the competition's runtime image with `command` (default `python3 src/predict.py {input} {output}`; split into arguments without a shell, so pipes, redirections, variables and wildcards are refused). Counts against the team's quota; a 429 tells when the next slot opens.",
        consumes: ["multipart/form-data"],
        response: { 202: AcceptedSchema, "4xx": ProblemSchema, "5xx": ProblemSchema },
      },
    },
    async (request, reply) => {
      const team = currentTeam(request);
      intake.admit(request.principal);
      assertMultipart(request);
      const slot = await intake.reserve(team.id);
      const state = await intake.complete(slot, request.log, () =>
        receiveUpload(request, intake.target(slot.id)),
      );
      const statusUrl = submissionUrl(slot.id, app.prefix);
      return reply.status(202).header("location", statusUrl).send({ id: slot.id, state, statusUrl });
    },
  );

  app.get(
    "/quota",
    {
      onRequest: app.requireAuth,
      schema: {
        summary: "The team's submission quota: what is left, and when the next slot opens",
        description: "Organizers name the team with `?team=<id>`.",
        querystring: Type.Object({ team: Type.Optional(Type.String({ maxLength: 100 })) }),
        response: { 200: QuotaSchema, "4xx": ProblemSchema },
      },
    },
    async (request) => {
      const p = currentPrincipal(request);
      let teamId: string;
      if (p.role === "team") teamId = p.team.id;
      else if (request.query.team && UUID.test(request.query.team)) teamId = request.query.team;
      else throw new Errors.InvalidField("organizers name the team: `?team=<team id>`");
      if (!(await isCompetitionTeam(db, opts.competitionId, teamId))) {
        throw new Errors.NotFound(`no team ${teamId}`);
      }
      return quotaView(await quotaStatus(db, teamId));
    },
  );

  app.get(
    "/submissions",
    {
      onRequest: app.requireAuth,
      schema: {
        summary: "Submissions, newest first: the calling team's own; every team's for organizers",
        response: { 200: Type.Object({ submissions: Type.Array(SubmissionSchema) }), "4xx": ProblemSchema },
      },
    },
    async (request) => {
      const p = currentPrincipal(request);
      const release = await currentRelease(db, opts.competitionId);
      if (p.role === "organizer") {
        const rows = await listCompetitionSubmissions(db, opts.competitionId);
        return {
          submissions: rows.map((r) => ownerView(r, { release, organizer: true, apiBase: app.prefix })),
        };
      }
      const team = currentTeam(request);
      const rows = await listTeamSubmissions(db, team.id);
      return {
        submissions: rows.map((r) =>
          ownerView(
            { ...r, team: { id: team.id, name: team.name, institution: null, baseline: false } },
            { release, organizer: false, apiBase: app.prefix },
          ),
        ),
      };
    },
  );

  app.get(
    "/submissions/:id",
    {
      schema: {
        summary:
          "A submission: everything for its team and organizers; the leaderboard fields for anyone if listed",
        // Anyone may ask; the submission's team and organizers see more with their credentials.
        security: [{}, { bearer: [] }, { session: [] }],
        params: IdParamsSchema,
        response: {
          200: Type.Union([SubmissionDetailSchema, PublicSubmissionSchema]),
          "4xx": ProblemSchema,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const s = await findHere(id);
      const release = await currentRelease(db, opts.competitionId);
      if (s && canSeeWhole(request.principal, s)) {
        const organizer = request.principal?.role === "organizer";
        const [place, origin] = await Promise.all([queueEstimateOf(db, s), originOf(db, s.id, organizer)]);
        const detail: SubmissionDetail = {
          ...ownerView(s, { release, organizer, apiBase: app.prefix }),
          queuePosition: place.position,
          estimatedStartAt: place.estimatedStartAt,
          refunded: s.refunded,
          failedPhase: s.failedPhase,
          ...origin,
        };
        return detail;
      }
      if (s && isPublicEntry(s, release, opts.aucFloor)) return publicView(s, release);
      throw new Errors.NotFound(`no submission ${id}`);
    },
  );

  for (const [action, hidden] of [
    ["hide", true],
    ["unhide", false],
  ] as const) {
    app.post(
      `/submissions/:id/${action}`,
      {
        onRequest: app.requireAuth,
        schema: {
          summary: hidden
            ? "Take a submission off the public leaderboard (its team or an organizer)"
            : "Put a hidden submission back on the public leaderboard",
          params: IdParamsSchema,
          response: { 200: SubmissionSchema, "4xx": ProblemSchema },
        },
      },
      async (request) => {
        const s = await wholeSubmission(request, request.params.id);
        await setSubmissionHidden(db, s.id, hidden, auditOf(request, opts.competitionId));
        if (s.hidden !== hidden && s.state === "scored") {
          await opts.organizer.refreshTies(`submission ${s.id} ${hidden ? "hidden" : "shown"}`, request.log);
        }
        const release = await currentRelease(db, opts.competitionId);
        return ownerView(
          { ...s, hidden },
          { release, organizer: request.principal?.role === "organizer", apiBase: app.prefix },
        );
      },
    );
  }

  done();
};

export default submissionRoutes;
