import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { Errors } from "../errors.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Why a state-changing request must be refused as cross-site, or null to let it through.
 *
 * The session cookie is SameSite=Lax, which already keeps it off cross-site POSTs; this is the second
 * wall (older browsers, sibling subdomains). Browsers say where a request comes from: Sec-Fetch-Site
 * when they support it, Origin otherwise. A request carrying neither is not from a browser (curl, the
 * CLI, server-side code), so there is no victim whose cookie could be abused. A bearer token is never
 * attached by a browser on its own, so such requests are not forgeable either.
 */
export function crossOriginProblem(request: FastifyRequest): string | null {
  if (SAFE_METHODS.has(request.method) || request.headers.authorization !== undefined) return null;
  const site = request.headers["sec-fetch-site"];
  if (typeof site === "string") {
    return site === "same-origin" || site === "none"
      ? null
      : `cross-site request refused (Sec-Fetch-Site: ${site}): forms must be sent from this site's own pages`;
  }
  const origin = request.headers.origin;
  if (origin === undefined) return null;
  let host: string | null;
  try {
    host = origin === "null" ? null : new URL(origin).host;
  } catch {
    host = null;
  }
  return host !== null && host === request.headers.host
    ? null
    : `cross-origin request refused (Origin: ${origin}): forms must be sent from this site's own pages`;
}

/** Refuses forged cross-site state-changing requests (CSRF) for the whole API and the pages. */
export const crossOriginCheck = fp(
  (app: FastifyInstance) => {
    app.addHook("onRequest", (request, _reply, next) => {
      const problem = crossOriginProblem(request);
      next(problem ? new Errors.Forbidden(problem) : undefined);
    });
  },
  { name: "cross-origin-check" },
);
