import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { explainFailure } from "@holdout/contracts";
import {
  getTeamContact,
  issueApiToken,
  listApiTokens,
  listTeamSubmissions,
  MAX_FINALS,
  revokeApiToken,
  TooManyTokensError,
  type Db,
} from "@holdout/db";
import { Errors } from "../errors.ts";
import { UUID } from "../schemas/common.ts";
import { chooseFinal } from "../services/finals.ts";
import type { NotificationService } from "../services/notifications.ts";
import { currentRelease, formatAuc, listedOnBoard, shownScores } from "../services/release.ts";
import { textRule } from "../services/text.ts";
import { formatDate, formatDateTime, STATE_LABELS } from "./format.ts";
import { parseForm, type FieldErrors } from "./forms.ts";
import { quotaSummary } from "./quota-summary.ts";
import { redirectToLogin, renderPage, type WebContext } from "./render.ts";

const TokenForm = z.object({
  label: z.string().superRefine(textRule()).trim().max(100, { error: "at most 100 characters" }).optional(),
});

const NOTICES: Record<string, string> = {
  revoked: "The token was revoked: it no longer works.",
  final: "Final choice saved.",
  "webhook-removed": "The webhook was removed.",
  "email-on": "Your team will get an e-mail when a submission ends.",
  "email-off": "Your team will no longer get e-mail when a submission ends.",
};

const WebhookForm = z.object({ url: z.string().trim().min(1, { error: "enter the webhook's URL" }) });

/** The team's own page: its submissions, API tokens, quota and notifications. */
const teamPage: FastifyPluginCallback<{
  db: Db;
  web: WebContext;
  maxLiveTokens: number;
  notifications: NotificationService;
}> = (app, { db, web, maxLiveTokens, notifications }, done) => {
  function teamOf(request: FastifyRequest) {
    const p = request.principal;
    return p?.role === "team" ? p.team : null;
  }

  async function render(
    request: FastifyRequest,
    reply: FastifyReply,
    extra: {
      newToken?: string;
      newSecret?: string;
      /** A refused webhook URL, kept in its field to be corrected. */
      webhookUrl?: string;
      errors?: FieldErrors;
      notice?: string | null;
    } = {},
    status = 200,
  ) {
    const team = teamOf(request)!;
    const [quota, submissions, tokens, details, release, hooks, settings] = await Promise.all([
      quotaSummary(db, team.id),
      listTeamSubmissions(db, team.id),
      listApiTokens(db, { teamId: team.id }),
      getTeamContact(db, team.id),
      currentRelease(db, web.competition.id),
      notifications.list(team.id),
      notifications.settings(team.id),
    ]);
    const webhooks = await Promise.all(
      hooks.map(async (h) => ({
        ...h,
        deliveries: (await notifications.deliveries(team.id, h.id)).slice(0, 10).map((d) => ({
          ...d,
          attempts: d.attempts.map((a) => ({ ...a, at: formatDateTime(new Date(a.at)) })),
        })),
      })),
    );
    return renderPage(
      web,
      request,
      reply,
      "team",
      {
        title: `Team ${team.name}`,
        team: { ...team, ...details },
        quota,
        submissions: submissions.map((s) => ({
          id: s.id,
          date: formatDate(s.createdAt),
          dateIso: s.createdAt.toISOString(),
          model: s.modelName,
          state: s.state,
          stateLabel: STATE_LABELS[s.state],
          auc: (() => {
            const board = shownScores(s, release).board;
            return board ? formatAuc(board.meanAuc, release) : null;
          })(),
          withheld: s.ladderImproved === false,
          failure: s.failureCategory ? explainFailure(s.failureCategory).title : null,
          refunded: s.refunded,
          hidden: s.hidden,
          disqualified: s.disqualified,
          listed: listedOnBoard(s, release, web.competition.aucFloor),
          final: s.selectedFinal,
        })),
        // Finals are chosen in a split competition while it is open.
        finals: release.split ? { open: !release.closed, max: MAX_FINALS } : null,
        tokens: tokens.map((t) => ({
          id: t.id,
          prefix: t.prefix,
          label: t.label,
          createdAt: formatDateTime(t.createdAt),
          lastUsedAt: t.lastUsedAt ? formatDateTime(t.lastUsedAt) : null,
          revoked: t.revokedAt !== null,
        })),
        newToken: extra.newToken ?? null,
        webhooks,
        emailOnEnd: settings.emailOnEnd,
        newSecret: extra.newSecret ?? null,
        webhookUrl: extra.webhookUrl ?? "",
        errors: extra.errors ?? {},
        notice: extra.notice ?? null,
      },
      status,
    );
  }

  app.get<{ Querystring: { notice?: string } }>("/team", { schema: { hide: true } }, (request, reply) => {
    if (!request.principal) return redirectToLogin(web, request, reply);
    if (!teamOf(request)) return reply.redirect(`${web.base.pages}/admin`, 303);
    return render(request, reply, { notice: NOTICES[request.query.notice ?? ""] ?? null });
  });

  app.post("/team/tokens", { schema: { hide: true } }, async (request, reply) => {
    const team = teamOf(request);
    if (!team) throw new Errors.Unauthorized("sign in as a team to manage its API tokens");
    const form = parseForm(TokenForm, request.body);
    if (!form.ok) return render(request, reply, { errors: form.errors }, 400);
    let issued;
    try {
      issued = await issueApiToken(db, { teamId: team.id }, form.value.label || null, {
        maxLive: maxLiveTokens,
      });
    } catch (err) {
      if (err instanceof TooManyTokensError)
        return render(request, reply, { errors: { label: err.message } }, 409);
      throw err;
    }
    reply.header("cache-control", "no-store");
    return render(request, reply, { newToken: issued.token }, 201);
  });

  for (const [action, selected] of [
    ["final", true],
    ["unfinal", false],
  ] as const) {
    app.post<{ Params: { id: string } }>(
      `/submissions/:id/${action}`,
      { schema: { hide: true } },
      async (request, reply) => {
        const team = teamOf(request);
        if (!team) throw new Errors.Unauthorized("sign in as a team to choose its finals");
        await chooseFinal(db, team.id, request.params.id, selected);
        return reply.redirect(`${web.base.pages}/team?notice=final`, 303);
      },
    );
  }

  app.post("/team/webhooks", { schema: { hide: true } }, async (request, reply) => {
    const team = teamOf(request);
    if (!team) throw new Errors.Unauthorized("sign in as a team to manage its webhooks");
    const form = parseForm(WebhookForm, request.body);
    if (!form.ok)
      return render(request, reply, { errors: { webhook: form.errors.url ?? "enter a URL" } }, 400);
    let created;
    try {
      created = await notifications.register(team.id, form.value.url);
    } catch (err) {
      const e = err as { statusCode?: number; message?: string };
      if (e.statusCode === 400 || e.statusCode === 409)
        return render(
          request,
          reply,
          { errors: { webhook: e.message ?? "refused" }, webhookUrl: form.value.url },
          e.statusCode,
        );
      throw err;
    }
    reply.header("cache-control", "no-store");
    return render(request, reply, { newSecret: created.secret }, 201);
  });

  app.post<{ Params: { id: string } }>(
    "/team/webhooks/:id/remove",
    { schema: { hide: true } },
    async (request, reply) => {
      const team = teamOf(request);
      if (!team) throw new Errors.Unauthorized("sign in as a team to manage its webhooks");
      await notifications.remove(team.id, request.params.id);
      return reply.redirect(`${web.base.pages}/team?notice=webhook-removed`, 303);
    },
  );

  app.post("/team/notifications", { schema: { hide: true } }, async (request, reply) => {
    const team = teamOf(request);
    if (!team) throw new Errors.Unauthorized("sign in as a team to choose its e-mail");
    const on = parseForm(z.object({ emailOnEnd: z.enum(["on", "off"]) }), request.body);
    if (!on.ok) return render(request, reply, { errors: { email: "choose on or off" } }, 400);
    await notifications.setEmail(team.id, on.value.emailOnEnd === "on");
    return reply.redirect(`${web.base.pages}/team?notice=email-${on.value.emailOnEnd}`, 303);
  });

  app.post<{ Params: { id: string } }>(
    "/team/tokens/:id/revoke",
    { schema: { hide: true } },
    async (request, reply) => {
      const team = teamOf(request);
      if (!team) throw new Errors.Unauthorized("sign in as a team to manage its API tokens");
      const { id } = request.params;
      if (!UUID.test(id) || !(await revokeApiToken(db, { teamId: team.id }, id))) {
        throw new Errors.NotFound(`no active API token ${id}`);
      }
      return reply.redirect(`${web.base.pages}/team?notice=revoked`, 303);
    },
  );
  done();
};

export default teamPage;
