import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import {
  authenticateApiToken,
  authenticateSession,
  type AuditActor,
  type AuthenticatedTeam,
  type Db,
  type Principal,
} from "@holdout/db";
import { Errors } from "../errors.ts";
import { BEARER_CHALLENGE } from "./problem-json.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** Whoever a valid bearer token or session cookie speaks for, or null when anonymous. */
    principal: Principal | null;
    /** The team behind the request, when the principal is a team. */
    team: AuthenticatedTeam | null;
  }
  interface FastifyInstance {
    requireAuth: (request: FastifyRequest) => Promise<void>;
    requireTeam: (request: FastifyRequest) => Promise<void>;
    requireOrganizer: (request: FastifyRequest) => Promise<void>;
  }
}

export const SESSION_COOKIE = "holdout_session";
const BEARER = /^Bearer\s+(\S+)\s*$/i;

export interface CookieSettings {
  secure: boolean;
}

export function sessionCookie(token: string, expiresAt: Date, s: CookieSettings): string {
  const maxAge = Math.max(0, Math.floor((expiresAt.getTime() - Date.now()) / 1000));
  return [
    `${SESSION_COOKIE}=${token}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Lax",
    `Max-Age=${maxAge}`,
    ...(s.secure ? ["Secure"] : []),
  ].join("; ");
}

export function clearedSessionCookie(s: CookieSettings): string {
  return sessionCookie("", new Date(0), s);
}

/** The session token from the Cookie header, if any. Our tokens are base64url: no decoding needed. */
export function sessionTokenOf(request: FastifyRequest): string | null {
  const header = request.headers.cookie;
  if (!header) return null;
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq > 0 && pair.slice(0, eq).trim() === SESSION_COOKIE) return pair.slice(eq + 1).trim() || null;
  }
  return null;
}

/** A token was sent and refused: RFC 6750 §3.1's `invalid_token` in the challenge. */
function invalidToken(err: Error): Error {
  return Object.assign(err, {
    headers: {
      "www-authenticate": `${BEARER_CHALLENGE}, error="invalid_token", error_description="${err.message}"`,
    },
  });
}

/**
 * Resolves `Authorization: Bearer <token>` or the session cookie on every request. A bad bearer
 * token is an error even where anonymous access is allowed: silently treating it as anonymous
 * would hide the caller's mistake. A stale session cookie is not (browsers keep sending them):
 * the request is simply anonymous.
 */
export const auth = fp(
  (app: FastifyInstance, opts: { db: Db; competitionId: string }) => {
    app.decorateRequest("principal", null);
    app.decorateRequest("team", null);

    // A credential of a team of another competition on this server is as good as unknown.
    const belongsHere = (p: Principal | null) =>
      p !== null && (p.role === "organizer" || p.team.competitionId === opts.competitionId);

    app.addHook("onRequest", async (request) => {
      const header = request.headers.authorization;
      let principal: Principal | null = null;
      if (header !== undefined) {
        const match = BEARER.exec(header);
        if (!match?.[1]) {
          // Another scheme (Basic, a bare token): the default challenge says which one to use,
          // unless it was a Bearer token that is malformed.
          const err = new Errors.Unauthorized("the Authorization header must be `Bearer <API token>`");
          throw /^Bearer\b/i.test(header) ? invalidToken(err) : err;
        }
        principal = await authenticateApiToken(opts.db, match[1]);
        if (!belongsHere(principal))
          throw invalidToken(new Errors.Unauthorized("unknown or revoked API token"));
      } else {
        const token = sessionTokenOf(request);
        if (token) principal = await authenticateSession(opts.db, token);
        if (!belongsHere(principal)) principal = null;
      }
      request.principal = principal;
      if (principal?.role === "team") {
        const { id, name, competitionId } = principal.team;
        request.team = { id, name, competitionId, tokenId: principal.credentialId };
      }
    });

    const anonymous = () =>
      new Errors.Unauthorized(
        "this endpoint needs an API token (`Authorization: Bearer <token>`) or a signed-in session",
      );
    app.decorate("requireAuth", (request: FastifyRequest) =>
      request.principal ? Promise.resolve() : Promise.reject(anonymous()),
    );
    app.decorate("requireTeam", (request: FastifyRequest) => {
      if (!request.principal) return Promise.reject(anonymous());
      if (request.principal.role !== "team") {
        return Promise.reject(new Errors.Forbidden("only teams can do this; organizer accounts cannot"));
      }
      return Promise.resolve();
    });
    app.decorate("requireOrganizer", (request: FastifyRequest) => {
      if (!request.principal) return Promise.reject(anonymous());
      if (request.principal.role !== "organizer") {
        return Promise.reject(new Errors.Forbidden("this endpoint is for organizers only"));
      }
      return Promise.resolve();
    });
  },
  { name: "auth" },
);

export function currentTeam(request: FastifyRequest): AuthenticatedTeam {
  if (!request.team) throw new Errors.Unauthorized("this endpoint needs an API token");
  return request.team;
}

export function currentPrincipal(request: FastifyRequest): Principal {
  if (!request.principal) throw new Errors.Unauthorized("this endpoint needs an API token");
  return request.principal;
}

/**
 * The organizer behind the request as the audit log names them, or undefined for anyone else (a
 * team hiding its own entry is not an organizer action).
 */
export function auditOf(request: FastifyRequest, competitionId: string): AuditActor | undefined {
  const p = request.principal;
  return p?.role === "organizer" ? { competitionId, actor: `organizer:${p.account.email}` } : undefined;
}

/** auditOf for routes only organizers reach. */
export function organizerActor(request: FastifyRequest, competitionId: string): AuditActor {
  const by = auditOf(request, competitionId);
  if (!by) throw new Errors.Forbidden("this is for organizers only");
  return by;
}
