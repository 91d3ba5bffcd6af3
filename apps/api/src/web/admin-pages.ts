import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import {
  getCompetitionSettings,
  listAudit,
  listRecentSubmissions,
  listTeams,
  setTeamApproved,
  type Db,
} from "@holdout/db";
import { Errors } from "../errors.ts";
import { organizerActor } from "../plugins/auth.ts";
import { UUID } from "../schemas/common.ts";
import type { BaselineService } from "../services/baselines.ts";
import { auditEventView, disqualificationReason, type OrganizerService } from "../services/organizer.ts";
import { formatAuc, listedOnBoard, releaseOf, shownScores } from "../services/release.ts";
import { formatDate, formatDateTime, formatDuration, STATE_LABELS } from "./format.ts";
import { formFields, parseForm, type FieldErrors } from "./forms.ts";
import { redirectToLogin, renderPage, type WebContext } from "./render.ts";

const count = (max: number) =>
  z.coerce
    .number({ error: "enter a whole number" })
    .int({ error: "enter a whole number" })
    .min(0, { error: "must be 0 or more" })
    .max(max, { error: `must be at most ${max}` });

const decimals = (min: number, max: number) =>
  z.coerce
    .number({ error: "enter a whole number" })
    .int({ error: "enter a whole number" })
    .min(min, { error: `must be ${min} or more` })
    .max(max, { error: `must be at most ${max}` });

const SettingsForm = z.object({
  registrationOpen: z.literal("yes").optional(),
  requireApproval: z.literal("yes").optional(),
  quotaPerDay: count(1000),
  quotaTotal: count(100000),
  // Absent (a form from before these fields): unchanged.
  aucDecimals: decimals(1, 6).optional(),
  radsDecimals: decimals(0, 3).optional(),
  ladder: z.literal("yes").optional(),
  // Empty: no split; absent: unchanged.
  publicFraction: z
    .union([
      z.literal("").transform(() => null),
      z.coerce
        .number({ error: "enter a fraction such as 0.5, or leave it empty for no split" })
        .min(0.1, { error: "must be at least 0.1" })
        .max(0.9, { error: "must be at most 0.9" }),
    ])
    .optional(),
});

const CloseForm = z.object({ confirm: z.string().optional() });

const DisqualifyForm = z.object({ reason: z.string().optional() });

const NOTICES: Record<string, string> = {
  settings: "Settings saved.",
  rescore: "Re-score queued: the worker scores the stored predictions again.",
  disqualified: "Entry disqualified: it is no longer listed.",
  requalified: "Disqualification withdrawn.",
  approved: "Team approved: it may submit.",
  unapproved: "Approval withdrawn.",
  closed: "The competition is closed: uploads are refused and the hidden-set curves are published.",
};

const AUDIT_SHOWN = 100;

const SUBMISSIONS_SHOWN = 200;

/**
 * Organizer pages: queue and workers, re-score, hide, disqualify, teams, competition settings,
 * closing, and the audit log of all of these.
 */
const adminPages: FastifyPluginCallback<{
  db: Db;
  web: WebContext;
  organizer: OrganizerService;
  baselines: Pick<BaselineService, "list">;
}> = (app, { db, web, organizer, baselines }, done) => {
  const competitionId = web.competition.id;

  /** Organizers only; anonymous visitors are sent to sign in, teams are refused. */
  function guard(request: FastifyRequest) {
    if (request.principal?.role === "organizer") return request.principal;
    if (request.principal) throw new Errors.Forbidden("this page is for organizers only");
    return null;
  }

  async function render(
    request: FastifyRequest,
    reply: FastifyReply,
    extra: { errors?: FieldErrors; notice?: string | null; settingsValues?: Record<string, string> } = {},
    status = 200,
  ) {
    const now = new Date();
    const [settings, queue, workers, teams, submissions, audit, baselineTeams] = await Promise.all([
      getCompetitionSettings(db, competitionId),
      organizer.queue(),
      organizer.workers(now),
      listTeams(db, competitionId),
      listRecentSubmissions(db, competitionId, SUBMISSIONS_SHOWN),
      listAudit(db, competitionId, { limit: AUDIT_SHOWN }),
      baselines.list(),
    ]);
    const release = releaseOf(settings);
    const age = (d: Date | null) => (d ? `${formatDuration(now.getTime() - d.getTime())} ago` : "–");
    return renderPage(
      web,
      request,
      reply,
      "admin",
      {
        title: "Organizer",
        notice: extra.notice ?? null,
        errors: extra.errors ?? {},
        settings: extra.settingsValues
          ? {
              registrationOpen: extra.settingsValues.registrationOpen === "yes",
              requireApproval: extra.settingsValues.requireApproval === "yes",
              quotaPerDay: extra.settingsValues.quotaPerDay ?? "",
              quotaTotal: extra.settingsValues.quotaTotal ?? "",
              aucDecimals: extra.settingsValues.aucDecimals ?? "",
              radsDecimals: extra.settingsValues.radsDecimals ?? "",
              ladder: extra.settingsValues.ladder === "yes",
              publicFraction: extra.settingsValues.publicFraction ?? "",
            }
          : { ...settings, publicFraction: settings.splitFraction ?? "" },
        // Not `competition`: the layout's own (renderPage sets it for every page).
        lifecycle: {
          state: settings.state,
          closedAt: settings.closedAt ? formatDateTime(settings.closedAt) : null,
          closedBy: settings.closedBy,
          splitSeed: settings.splitSeed,
        },
        audit: audit.map((e) => ({ ...auditEventView(e), atText: formatDateTime(e.at) })),
        jobs: queue.jobs,
        queue: queue.submissions.map((s) => ({
          id: s.id,
          team: s.team.name,
          model: s.modelName,
          state: s.state,
          stateLabel: STATE_LABELS[s.state],
          position: s.position,
          waiting: age(s.queuedAt ?? s.createdAt),
          worker: s.worker,
          heartbeat: age(s.heartbeatAt),
          attempts: s.attempts,
          cancelling: s.cancelRequestedAt !== null,
        })),
        workers: workers.map((w) => ({
          ...w,
          startedAt: formatDateTime(w.startedAt),
          lastSeen: age(w.lastSeenAt),
        })),
        teams: teams.filter((t) => !t.baseline).map((t) => ({ ...t, createdAt: formatDate(t.createdAt) })),
        baselines: baselineTeams.map((t) => ({ ...t, createdAt: formatDate(t.createdAt) })),
        submissions: submissions.map((s) => ({
          id: s.id,
          team: s.team.name,
          baseline: s.team.baseline,
          model: s.modelName,
          state: s.state,
          stateLabel: STATE_LABELS[s.state],
          date: formatDate(s.createdAt),
          // What teams read (released), and the stored figure beside it.
          auc: (() => {
            const board = shownScores(s, release).board;
            return board ? formatAuc(board.meanAuc, release) : null;
          })(),
          fullAuc: s.meanAuc === null ? null : String(s.meanAuc),
          withheld: s.ladderImproved === false,
          hidden: s.hidden,
          disqualified: s.disqualified,
          disqualifiedReason: s.disqualifiedReason,
          failure: s.failureCategory,
          listed: listedOnBoard(s, release, web.competition.aucFloor),
        })),
        shownLimit: SUBMISSIONS_SHOWN,
      },
      status,
    );
  }

  app.get<{ Querystring: { notice?: string } }>(
    "/admin",
    { schema: { hide: true } },
    async (request, reply) => {
      if (!guard(request)) return redirectToLogin(web, request, reply);
      return render(request, reply, { notice: NOTICES[request.query.notice ?? ""] ?? null });
    },
  );

  const back = (reply: FastifyReply, notice: string) =>
    reply.redirect(`${web.base.pages}/admin?notice=${notice}`, 303);

  app.post("/admin/settings", { schema: { hide: true } }, async (request, reply) => {
    if (!guard(request)) throw new Errors.Unauthorized("sign in as an organizer");
    const form = parseForm(SettingsForm, request.body);
    if (!form.ok) return render(request, reply, { errors: form.errors, settingsValues: form.raw }, 400);
    try {
      await organizer.updateSettings(organizerActor(request, competitionId), {
        registrationOpen: form.value.registrationOpen === "yes",
        requireApproval: form.value.requireApproval === "yes",
        quotaPerDay: form.value.quotaPerDay,
        quotaTotal: form.value.quotaTotal,
        ladder: form.value.ladder === "yes",
        ...(form.value.aucDecimals !== undefined ? { aucDecimals: form.value.aucDecimals } : {}),
        ...(form.value.radsDecimals !== undefined ? { radsDecimals: form.value.radsDecimals } : {}),
        ...(form.value.publicFraction !== undefined ? { splitFraction: form.value.publicFraction } : {}),
      });
    } catch (err) {
      if (!(err instanceof Errors.SettingLocked)) throw err;
      return render(
        request,
        reply,
        { errors: { publicFraction: `${err.message}.` }, settingsValues: formFields(request.body) },
        409,
      );
    }
    return back(reply, "settings");
  });

  // Closing takes the slug typed again: a confirmation that a stray click cannot give.
  app.post("/admin/competition/close", { schema: { hide: true } }, async (request, reply) => {
    if (!guard(request)) throw new Errors.Unauthorized("sign in as an organizer");
    const form = parseForm(CloseForm, request.body);
    const typed = form.ok ? (form.value.confirm ?? "").trim() : "";
    if (typed !== web.competition.slug) {
      const confirm = `Type the competition's slug, ${web.competition.slug}, to close it.`;
      return render(request, reply, { errors: { confirm } }, 400);
    }
    await organizer.closeCompetition(organizerActor(request, competitionId), request.log);
    return back(reply, "closed");
  });

  for (const [action, approved] of [
    ["approve", true],
    ["unapprove", false],
  ] as const) {
    app.post<{ Params: { id: string } }>(
      `/admin/teams/:id/${action}`,
      { schema: { hide: true } },
      async (request, reply) => {
        if (!guard(request)) throw new Errors.Unauthorized("sign in as an organizer");
        const { id } = request.params;
        const by = organizerActor(request, competitionId);
        if (!UUID.test(id) || !(await setTeamApproved(db, by, id, approved))) {
          throw new Errors.NotFound(`no team ${id}`);
        }
        return back(reply, approved ? "approved" : "unapproved");
      },
    );
  }

  app.post<{ Params: { id: string } }>(
    "/admin/submissions/:id/rescore",
    { schema: { hide: true } },
    async (request, reply) => {
      if (!guard(request)) throw new Errors.Unauthorized("sign in as an organizer");
      await organizer.rescore(request.params.id, organizerActor(request, competitionId));
      return back(reply, "rescore");
    },
  );

  app.post<{ Params: { id: string } }>(
    "/admin/submissions/:id/disqualify",
    { schema: { hide: true } },
    async (request, reply) => {
      if (!guard(request)) throw new Errors.Unauthorized("sign in as an organizer");
      const form = parseForm(DisqualifyForm, request.body);
      let reason: string;
      try {
        reason = disqualificationReason(form.ok ? form.value.reason : undefined);
      } catch (err) {
        const message = (err as { errors?: { message: string }[] }).errors?.[0]?.message ?? "give a reason";
        return render(
          request,
          reply,
          { errors: { [`reason-${request.params.id}`]: `The reason ${message}.` } },
          400,
        );
      }
      await organizer.setDisqualified(
        organizerActor(request, competitionId),
        request.params.id,
        true,
        reason,
      );
      await organizer.refreshTies(`submission ${request.params.id} disqualified`, request.log);
      return back(reply, "disqualified");
    },
  );

  app.post<{ Params: { id: string } }>(
    "/admin/submissions/:id/requalify",
    { schema: { hide: true } },
    async (request, reply) => {
      if (!guard(request)) throw new Errors.Unauthorized("sign in as an organizer");
      await organizer.setDisqualified(organizerActor(request, competitionId), request.params.id, false, null);
      await organizer.refreshTies(`submission ${request.params.id} requalified`, request.log);
      return back(reply, "requalified");
    },
  );
  done();
};

export default adminPages;
