import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Db } from "@holdout/db";
import { Errors } from "../errors.ts";
import { PROSE_MAX_CHARS } from "../services/competition-page.ts";
import { createCompetitionFromForm } from "../services/competition-setup.ts";
import { parseForm, type FieldErrors } from "./forms.ts";
import { redirectToLogin, renderPage, type WebContext } from "./render.ts";

const text = (max: number) => z.string().trim().max(max, `at most ${max} characters`);
const NewCompetitionForm = z.object({
  slug: text(63).min(1, "give the competition a slug"),
  name: text(200).min(1, "give the competition a name"),
  testsetDir: text(4096).min(1, "give the test set's directory on the server"),
  devsetDir: text(4096).default(""),
  scorer: text(20).default(""),
  phases: text(20_000).default(""),
  terms: text(PROSE_MAX_CHARS).default(""),
});

const DEFAULT_PHASES = "Hidden test set,hidden,now,";

/**
 * The organizer's form for a new competition (`/admin/competitions/new`): the same checks as
 * `holdout competition create`, each refusal shown next to its field; a created competition's
 * organizer page is where the form leads.
 */
const competitionSetupPage: FastifyPluginCallback<{ db: Db; web: WebContext }> = (app, { db, web }, done) => {
  const organizerOf = (request: FastifyRequest) => {
    if (request.principal?.role === "organizer") return request.principal;
    if (request.principal) throw new Errors.Forbidden("this page is for organizers only");
    return null;
  };
  const show = (
    request: FastifyRequest,
    reply: FastifyReply,
    values: Record<string, string>,
    errors: FieldErrors = {},
    status = 200,
  ) =>
    renderPage(web, request, reply, "competition-new", { title: "New competition", values, errors }, status);

  app.get("/admin/competitions/new", { schema: { hide: true } }, (request, reply) => {
    if (!organizerOf(request)) return redirectToLogin(web, request, reply);
    return show(request, reply, { phases: DEFAULT_PHASES });
  });

  app.post("/admin/competitions", { schema: { hide: true } }, async (request, reply) => {
    const organizer = organizerOf(request);
    if (!organizer) throw new Errors.Unauthorized("sign in as an organizer");
    const form = parseForm(NewCompetitionForm, request.body);
    if (!form.ok) return show(request, reply, form.raw, form.errors, 400);
    const created = await createCompetitionFromForm(db, `organizer:${organizer.account.email}`, {
      ...form.value,
      phases: form.value.phases || DEFAULT_PHASES,
    });
    if (!created.ok) return show(request, reply, form.value, created.errors, 400);
    return reply.redirect(`/c/${created.slug}/admin`, 303);
  });
  done();
};

export default competitionSetupPage;
