import type { FastifyPluginCallback, FastifyRequest } from "fastify";
import { listTeamSubmissions, type Db } from "@holdout/db";
import { Errors } from "../errors.ts";
import { organizerActor } from "../plugins/auth.ts";
import type { BaselineService } from "../services/baselines.ts";
import { formatDate, STATE_LABELS } from "./format.ts";
import { formFields } from "./forms.ts";
import { redirectToLogin, renderPage, type WebContext } from "./render.ts";

/**
 * The organizer's baseline pages (services/baselines.ts): naming a baseline (from the organizer
 * page's form), and a baseline's page with its entries and the upload form, which posts to the admin
 * API as the submit page posts to the team's (static/submit.js).
 */
const baselinePages: FastifyPluginCallback<{ db: Db; web: WebContext; baselines: BaselineService }> = (
  app,
  { db, web, baselines },
  done,
) => {
  const competitionId = web.competition.id;

  function isOrganizer(request: FastifyRequest): boolean {
    if (request.principal?.role === "organizer") return true;
    if (request.principal) throw new Errors.Forbidden("this page is for organizers only");
    return false;
  }

  app.post("/admin/baselines", { schema: { hide: true } }, async (request, reply) => {
    if (!isOrganizer(request)) throw new Errors.Unauthorized("sign in as an organizer");
    const form = formFields(request.body);
    // The service's checks give the message (shown on the error page, with its code). An empty
    // institution leaves an existing baseline's as it is.
    const { team } = await baselines.ensure(organizerActor(request, competitionId), {
      name: form.name ?? "",
      ...(form.institution?.trim() ? { institution: form.institution } : {}),
    });
    return reply.redirect(`${web.base.pages}/admin/baselines/${team.id}`, 303);
  });

  app.get<{ Params: { id: string } }>(
    "/admin/baselines/:id",
    { schema: { hide: true } },
    async (request, reply) => {
      if (!isOrganizer(request)) return redirectToLogin(web, request, reply);
      const team = await baselines.find(request.params.id);
      const entries = await listTeamSubmissions(db, team.id);
      return renderPage(web, request, reply, "baseline", {
        title: `${team.name} · baseline`,
        baseline: team,
        entries: entries.map((s) => ({
          id: s.id,
          model: s.modelName,
          state: s.state,
          stateLabel: STATE_LABELS[s.state],
          date: formatDate(s.createdAt),
        })),
        scripts: ["submit.js"],
      });
    },
  );
  done();
};

export default baselinePages;
