import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import {
  createSession,
  deleteSession,
  EmailTakenError,
  getCompetitionSettings,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  registerTeam,
  competitionTerms,
  TeamNameTakenError,
  verifyLogin,
  type Db,
  type Owner,
} from "@holdout/db";
import { clearedSessionCookie, sessionCookie, sessionTokenOf, type CookieSettings } from "../plugins/auth.ts";
import { textRule } from "../services/text.ts";
import { localPath } from "./format.ts";
import { parseForm, type FieldErrors } from "./forms.ts";
import { STANDARD_TERMS } from "../services/competition-page-text.ts";
import { renderMarkdown } from "./markdown.ts";
import { renderPage, type WebContext } from "./render.ts";

export interface AccountPagesOptions {
  db: Db;
  web: WebContext;
  sessionTtlMs: number;
  cookie: CookieSettings;
}

const oneLine = (field: string, max: number, required: boolean) =>
  z
    .string({ error: `${field} is required` })
    .superRefine(textRule())
    .trim()
    .max(max, { error: `at most ${max} characters` })
    .refine((v) => !required || v.length > 0, { error: `${field} is required` });

const LoginForm = z.object({
  email: z.string({ error: "enter your email" }).trim().min(1, { error: "enter your email" }).max(254),
  password: z
    .string({ error: "enter your password" })
    .min(1, { error: "enter your password" })
    .max(PASSWORD_MAX_LENGTH),
  next: z.string().optional(),
});

const RegisterForm = z.object({
  name: oneLine("Team name", 100, true),
  institution: oneLine("Institution", 200, false).optional(),
  email: z
    .string({ error: "enter an email address" })
    .trim()
    .max(254, { error: "at most 254 characters" })
    .pipe(z.email({ error: "enter an email address like name@example.org" })),
  password: z
    .string({ error: "choose a password" })
    .min(PASSWORD_MIN_LENGTH, { error: `at least ${PASSWORD_MIN_LENGTH} characters` })
    .max(PASSWORD_MAX_LENGTH, { error: `at most ${PASSWORD_MAX_LENGTH} characters` }),
  acceptTerms: z.literal("yes", { error: "accept the data-use terms to register" }),
});

/** Sign in, register and sign out, as plain HTML forms that work without JavaScript. */
const accountPages: FastifyPluginCallback<AccountPagesOptions> = (app, opts, done) => {
  const { db, web } = opts;

  async function startSession(reply: FastifyReply, owner: Owner) {
    const { token, expiresAt } = await createSession(db, owner, opts.sessionTtlMs);
    reply
      .header("set-cookie", sessionCookie(token, expiresAt, opts.cookie))
      .header("cache-control", "no-store");
  }

  const loginPage = (
    request: FastifyRequest,
    reply: FastifyReply,
    values: { email?: string; next?: string },
    errors: FieldErrors = {},
    status = 200,
  ) => renderPage(web, request, reply, "login", { title: "Sign in", values, errors }, status);

  app.get<{ Querystring: { next?: string } }>("/login", { schema: { hide: true } }, (request, reply) => {
    if (request.principal) return reply.redirect(localPath(request.query.next, `${web.base.pages}/`), 303);
    return loginPage(request, reply, { next: localPath(request.query.next, "") });
  });

  app.post("/login", { schema: { hide: true }, onRequest: app.limitAuthAttempts }, async (request, reply) => {
    const form = parseForm(LoginForm, request.body);
    if (!form.ok) return loginPage(request, reply, form.raw, form.errors, 400);
    const { email, password, next } = form.value;
    const owner = await verifyLogin(db, { competitionId: web.competition.id, email, password });
    if (!owner) {
      // Which of the two was wrong is not told.
      return loginPage(request, reply, { email, next }, { form: "Wrong email or password." }, 401);
    }
    await startSession(reply, owner);
    return reply.redirect(localPath(next, `${web.base.pages}${"teamId" in owner ? "/team" : "/admin"}`), 303);
  });

  app.post("/logout", { schema: { hide: true } }, async (request, reply) => {
    const token = sessionTokenOf(request);
    if (token) await deleteSession(db, token);
    return reply.header("set-cookie", clearedSessionCookie(opts.cookie)).redirect(`${web.base.pages}/`, 303);
  });

  const registerPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    values: Record<string, string>,
    errors: FieldErrors = {},
    status = 200,
  ) => {
    const [settings, terms] = await Promise.all([
      getCompetitionSettings(db, web.competition.id),
      competitionTerms(db, web.competition.id),
    ]);
    // Read on every request: the terms an organizer just edited are the ones a team accepts.
    const termsHtml = renderMarkdown(terms ?? STANDARD_TERMS);
    return renderPage(
      web,
      request,
      reply,
      "register",
      { title: "Register a team", values, errors, settings, termsHtml, passwordMin: PASSWORD_MIN_LENGTH },
      status,
    );
  };

  app.get("/register", { schema: { hide: true } }, (request, reply) => registerPage(request, reply, {}));

  app.post(
    "/register",
    { schema: { hide: true }, onRequest: app.limitAuthAttempts },
    async (request, reply) => {
      const form = parseForm(RegisterForm, request.body);
      if (!form.ok) {
        // What was typed is kept, except the password.
        const values = Object.fromEntries(Object.entries(form.raw).filter(([k]) => k !== "password"));
        return registerPage(request, reply, values, form.errors, 400);
      }
      const { name, institution, email, password } = form.value;
      const values = { name, institution: institution ?? "", email };
      const settings = await getCompetitionSettings(db, web.competition.id);
      if (!settings.registrationOpen) {
        return registerPage(
          request,
          reply,
          values,
          { form: "Registration is closed: ask the organizers to create your team." },
          403,
        );
      }
      try {
        const { team, token } = await registerTeam(db, {
          competitionId: web.competition.id,
          name,
          institution: institution || null,
          contactEmail: email,
          password,
          approved: !settings.requireApproval,
        });
        await startSession(reply, { teamId: team.id });
        const viewer = { role: "team" as const, name: team.name };
        return renderPage(
          web,
          request,
          reply,
          "registered",
          { title: "Team registered", team, token, viewer },
          201,
        );
      } catch (err) {
        if (err instanceof TeamNameTakenError) {
          return registerPage(
            request,
            reply,
            values,
            {
              name: "This team name is taken: another team's name reads the same (case, width, spacing and invisible characters do not count). Choose another.",
            },
            409,
          );
        }
        if (err instanceof EmailTakenError) {
          return registerPage(
            request,
            reply,
            values,
            { email: "This email already belongs to a team or an organizer; sign in instead." },
            409,
          );
        }
        throw err;
      }
    },
  );
  done();
};

export default accountPages;
