import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Db } from "@holdout/db";
import { formatBytes } from "@holdout/contracts";
import { Errors } from "../errors.ts";
import { organizerActor } from "../plugins/auth.ts";
import {
  editCompetitionProse,
  PROSE_MAX_CHARS,
  type CompetitionPageSource,
} from "../services/competition-page.ts";
import { formatDateTime } from "./format.ts";
import { parseForm, type FieldErrors } from "./forms.ts";
import { renderMarkdown } from "./markdown.ts";
import { redirectToLogin, renderPage, type WebContext } from "./render.ts";

const prose = z.string().max(PROSE_MAX_CHARS, `at most ${PROSE_MAX_CHARS} characters`).default("");
const ProseForm = z.object({ overview: prose, data: prose, rules: prose, terms: prose });

/**
 * The competition page (`/competition`), linked from every page's header, and the organizers' form
 * that edits its prose and the terms (`/admin/competition-page`). The prose is Markdown rendered by
 * markdown.ts, which lets no HTML through.
 */
const competitionPage: FastifyPluginCallback<{ db: Db; web: WebContext; page: CompetitionPageSource }> = (
  app,
  { db, web, page },
  done,
) => {
  const origin = (request: FastifyRequest) => `${request.protocol}://${request.host}`;

  app.get<{ Querystring: { saved?: string } }>(
    "/competition",
    { schema: { hide: true } },
    async (request, reply) => {
      const p = await page.read(origin(request));
      if (!p) throw new Errors.NotFound("this competition no longer exists");
      const html = (part: { markdown: string }) => renderMarkdown(part.markdown);
      return renderPage(web, request, reply, "competition", {
        title: "Competition",
        page: p,
        saved: request.query.saved === "1" && request.principal?.role === "organizer",
        prose: { overview: html(p.overview), data: html(p.data), rules: html(p.rules), terms: html(p.terms) },
        uploadMax: formatBytes(p.limits.uploadMaxBytes),
        bundleMax: formatBytes(p.limits.bundleMaxBytes),
        phases: p.phases.map((ph) => ({
          ...ph,
          startsText: formatDateTime(ph.startsAt),
          endsText: ph.endsAt ? formatDateTime(ph.endsAt) : "until the competition is closed",
        })),
        listedAt: p.runtime?.listedAt ? formatDateTime(p.runtime.listedAt) : null,
        defaultCompetition: web.base.pages === "",
      });
    },
  );

  const organizerOf = (request: FastifyRequest) => {
    if (request.principal?.role === "organizer") return request.principal;
    if (request.principal) throw new Errors.Forbidden("this page is for organizers only");
    return null;
  };
  const showForm = async (
    request: FastifyRequest,
    reply: FastifyReply,
    values: Record<string, string> | null,
    errors: FieldErrors = {},
    status = 200,
  ) => {
    const p = await page.read(origin(request));
    if (!p) throw new Errors.NotFound("this competition no longer exists");
    // The current text, or empty where the standard text stands (saving it empty keeps the standard).
    const current = (part: { markdown: string; standard: boolean }) => (part.standard ? "" : part.markdown);
    return renderPage(
      web,
      request,
      reply,
      "competition-edit",
      {
        title: "Edit the competition page",
        values: values ?? {
          overview: current(p.overview),
          data: current(p.data),
          rules: current(p.rules),
          terms: current(p.terms),
        },
        errors,
        maxChars: PROSE_MAX_CHARS,
      },
      status,
    );
  };

  app.get("/admin/competition-page", { schema: { hide: true } }, async (request, reply) => {
    if (!organizerOf(request)) return redirectToLogin(web, request, reply);
    return showForm(request, reply, null);
  });

  app.post("/admin/competition-page", { schema: { hide: true } }, async (request, reply) => {
    if (!organizerOf(request)) throw new Errors.Unauthorized("sign in as an organizer");
    const form = parseForm(ProseForm, request.body);
    if (!form.ok) return showForm(request, reply, form.raw, form.errors, 400);
    await editCompetitionProse(db, organizerActor(request, web.competition.id), form.value);
    return reply.redirect(`${web.base.pages}/competition?saved=1`, 303);
  });
  done();
};

export default competitionPage;
