import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { authenticateToken, type AuthenticatedTeam, type Db } from "@holdout/db";
import { Errors } from "../errors.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The team behind a valid bearer token, or null for anonymous requests. */
    team: AuthenticatedTeam | null;
  }
  interface FastifyInstance {
    requireTeam: (request: FastifyRequest) => Promise<void>;
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * Resolves `Authorization: Bearer <token>` on every request. A bad token is an error even where
 * anonymous access is allowed: silently treating it as anonymous would hide the caller's mistake.
 */
export const auth = fp(
  (app: FastifyInstance, opts: { db: Db; competitionId: string }) => {
    app.decorateRequest("team", null);
    app.addHook("onRequest", async (request) => {
      const header = request.headers.authorization;
      if (header === undefined) return;
      const match = BEARER.exec(header);
      if (!match?.[1]) {
        throw new Errors.Unauthorized("the Authorization header must be `Bearer <API token>`");
      }
      const team = await authenticateToken(opts.db, match[1]);
      if (!team || team.competitionId !== opts.competitionId) {
        throw new Errors.Unauthorized("unknown or revoked API token");
      }
      request.team = team;
    });
    app.decorate("requireTeam", (request: FastifyRequest) => {
      if (!request.team) {
        return Promise.reject(
          new Errors.Unauthorized("this endpoint needs an API token: send `Authorization: Bearer <token>`"),
        );
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
