import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import {
  createSession,
  deleteSession,
  EmailTakenError,
  getCompetitionSettings,
  issueApiToken,
  listApiTokens,
  ownerOf,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  registerTeam,
  revokeApiToken,
  TeamNameTakenError,
  TooManyTokensError,
  verifyLogin,
  type Db,
  type Owner,
} from "@holdout/db";
import { ProblemSchema } from "@holdout/contracts/http";
import { Errors } from "../errors.ts";
import {
  clearedSessionCookie,
  currentPrincipal,
  sessionCookie,
  sessionTokenOf,
  type CookieSettings,
} from "../plugins/auth.ts";
import { IdParamsSchema, UUID } from "../schemas/common.ts";
import { displayText } from "../services/text.ts";

export interface AccountRoutesOptions {
  db: Db;
  competitionId: string;
  sessionTtlMs: number;
  cookie: CookieSettings;
  /** Unrevoked API tokens one team or organizer account may hold. */
  maxLiveTokens: number;
}

const Email = Type.String({ format: "email", maxLength: 254 });
const Password = Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH });
const Credentials = Type.Object({ email: Email, password: Password }, { additionalProperties: false });

const TokenSchema = Type.Object({
  id: Type.String(),
  prefix: Type.String(),
  label: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
});

const WhoAmISchema = Type.Object({
  role: Type.Union([Type.Literal("team"), Type.Literal("organizer")]),
  team: Type.Union([
    Type.Object({ id: Type.String(), name: Type.String(), approved: Type.Boolean() }),
    Type.Null(),
  ]),
  account: Type.Union([Type.Object({ id: Type.String(), email: Type.String() }), Type.Null()]),
});

const accountRoutes: FastifyPluginCallbackTypebox<AccountRoutesOptions> = (app, opts, done) => {
  const { db } = opts;

  app.post(
    "/teams",
    {
      onRequest: app.limitAuthAttempts,
      schema: {
        summary: "Register a team (while registration is open); returns its first API token, once",
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            institution: Type.Optional(Type.String({ maxLength: 200 })),
            email: Email,
            password: Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH }),
            acceptTerms: Type.Boolean({ description: "acceptance of the competition's data-use terms" }),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            team: Type.Object({
              id: Type.String(),
              name: Type.String(),
              institution: Type.Union([Type.String(), Type.Null()]),
              email: Type.String(),
              approved: Type.Boolean(),
            }),
            token: Type.String(),
            message: Type.String(),
          }),
          "4xx": ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const name = displayText("name", body.name);
      const institution =
        body.institution === undefined ? null : displayText("institution", body.institution, true);
      if (!body.acceptTerms) {
        throw new Errors.TermsNotAccepted("registration requires accepting the competition's data-use terms");
      }
      const settings = await getCompetitionSettings(db, opts.competitionId);
      if (!settings.registrationOpen) {
        throw new Errors.RegistrationClosed("registration is closed: ask the organizers to create your team");
      }
      try {
        const { team, token } = await registerTeam(db, {
          competitionId: opts.competitionId,
          name,
          institution: institution || null,
          contactEmail: body.email,
          password: body.password,
          approved: !settings.requireApproval,
        });
        return reply.status(201).send({
          team: { ...team, email: team.contactEmail ?? body.email },
          token,
          message: team.approved
            ? "store this API token now: it is shown only once"
            : "store this API token now: it is shown only once; you can submit once an organizer approves your team",
        });
      } catch (err) {
        if (err instanceof TeamNameTakenError) throw new Errors.TeamNameTaken(err.message);
        if (err instanceof EmailTakenError) throw new Errors.EmailTaken(err.message);
        throw err;
      }
    },
  );

  /** Email + password to an owner, or a uniform 401 (which of the two was wrong is not told). */
  async function login(email: string, password: string): Promise<Owner> {
    const owner = await verifyLogin(db, { competitionId: opts.competitionId, email, password });
    if (!owner) throw new Errors.InvalidCredentials("wrong email or password");
    return owner;
  }

  app.post(
    "/tokens",
    {
      onRequest: app.limitAuthAttempts,
      // The handler takes a password or a token, so the docs cannot read this from a hook.
      config: { caller: "credentials" },
      schema: {
        summary: "Issue an API token (shown once): with email and password, or for the signed-in caller",
        body: Type.Optional(
          Type.Object(
            {
              email: Type.Optional(Email),
              password: Type.Optional(Password),
              label: Type.Optional(Type.String({ maxLength: 100 })),
            },
            { additionalProperties: false },
          ),
        ),
        response: {
          201: Type.Object({ ...TokenSchema.properties, token: Type.String() }),
          "4xx": ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      let owner: Owner;
      if (body.email !== undefined || body.password !== undefined) {
        if (body.email === undefined || body.password === undefined) {
          throw new Errors.InvalidField("send both `email` and `password`");
        }
        owner = await login(body.email, body.password);
        // A token or session was counted by the rate-limit hook; a password only now names the owner.
        await app.limitOwner(request, owner);
      } else if (request.principal) {
        owner = ownerOf(request.principal);
      } else {
        throw new Errors.Unauthorized("send `email` and `password`, or an existing API token or session");
      }
      const label = body.label === undefined ? null : displayText("label", body.label, true) || null;
      const issued = await issueApiToken(db, owner, label, { maxLive: opts.maxLiveTokens }).catch(
        (err: unknown) => {
          if (err instanceof TooManyTokensError) throw new Errors.TooManyTokens(err.message);
          throw err;
        },
      );
      return reply.status(201).send({
        id: issued.id,
        prefix: issued.prefix,
        label: issued.label,
        createdAt: issued.createdAt.toISOString(),
        lastUsedAt: null,
        revokedAt: null,
        token: issued.token,
      });
    },
  );

  app.get(
    "/tokens",
    {
      onRequest: app.requireAuth,
      schema: {
        summary: "The caller's API tokens (never the secrets), with when each was last used",
        response: { 200: Type.Object({ tokens: Type.Array(TokenSchema) }), "4xx": ProblemSchema },
      },
    },
    async (request) => {
      const rows = await listApiTokens(db, ownerOf(currentPrincipal(request)));
      const iso = (d: Date | null) => d?.toISOString() ?? null;
      return {
        tokens: rows.map((t) => ({
          ...t,
          createdAt: t.createdAt.toISOString(),
          lastUsedAt: iso(t.lastUsedAt),
          revokedAt: iso(t.revokedAt),
        })),
      };
    },
  );

  app.delete(
    "/tokens/:id",
    {
      onRequest: app.requireAuth,
      schema: {
        summary: "Revoke one of the caller's API tokens",
        params: IdParamsSchema,
        response: { 204: Type.Null(), "4xx": ProblemSchema },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const revoked = UUID.test(id) && (await revokeApiToken(db, ownerOf(currentPrincipal(request)), id));
      if (!revoked) throw new Errors.NotFound(`no active API token ${id}`);
      return reply.status(204).send(null);
    },
  );

  app.post(
    "/session",
    {
      onRequest: app.limitAuthAttempts,
      schema: {
        summary: "Sign in (the web): sets an httpOnly session cookie",
        body: Credentials,
        response: { 200: Type.Object({ expiresAt: Type.String() }), "4xx": ProblemSchema },
      },
    },
    async (request, reply) => {
      const owner = await login(request.body.email, request.body.password);
      const { token, expiresAt } = await createSession(db, owner, opts.sessionTtlMs);
      return reply
        .header("set-cookie", sessionCookie(token, expiresAt, opts.cookie))
        .header("cache-control", "no-store")
        .send({ expiresAt: expiresAt.toISOString() });
    },
  );

  app.get(
    "/session",
    {
      onRequest: app.requireAuth,
      schema: { summary: "Who the caller is", response: { 200: WhoAmISchema, "4xx": ProblemSchema } },
    },
    (request) => {
      const p = currentPrincipal(request);
      return p.role === "team"
        ? {
            role: p.role,
            team: { id: p.team.id, name: p.team.name, approved: p.team.approved },
            account: null,
          }
        : { role: p.role, team: null, account: p.account };
    },
  );

  app.delete(
    "/session",
    {
      schema: { summary: "Sign out: ends the session and clears its cookie", response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      const token = sessionTokenOf(request);
      if (token) await deleteSession(db, token);
      return reply.status(204).header("set-cookie", clearedSessionCookie(opts.cookie)).send(null);
    },
  );
  done();
};

export default accountRoutes;
