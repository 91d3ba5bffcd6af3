import type { Eta } from "eta";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { CompetitionBase } from "../services/competition-base.ts";
import type { CompetitionInfo } from "../services/leaderboard.ts";
import type { AssetUrls } from "./static.ts";

export interface WebContext {
  views: Eta;
  assets: AssetUrls;
  competition: CompetitionInfo;
  /** Where this competition's pages and API are: every link and redirect starts with these. */
  base: CompetitionBase;
}

/** Who the header shows as signed in, and which links it offers. */
export interface Viewer {
  role: "team" | "organizer";
  name: string;
}

export function viewerOf(request: FastifyRequest): Viewer | null {
  const p = request.principal;
  if (!p) return null;
  return p.role === "team"
    ? { role: "team", name: p.team.name }
    : { role: "organizer", name: p.account.email };
}

/**
 * Whether the client is a browser asking for a page (its Accept names text/html), rather than a
 * script or `curl` (which accept any type, or ask for JSON) wanting the API's JSON.
 */
export function prefersHtml(request: FastifyRequest): boolean {
  return (request.headers.accept ?? "").includes("text/html");
}

/**
 * Renders a page inside the layout. Templates escape every `<%= %>` (eta's autoEscape); the only raw
 * output is SVG built by plots.ts, which escapes its own text.
 */
export function renderPage(
  ctx: WebContext,
  request: FastifyRequest,
  reply: FastifyReply,
  view: string,
  data: Record<string, unknown> & { title: string; viewer?: Viewer },
  status = 200,
) {
  // `data.viewer`: who this response signs in (registration), whom the request did not yet carry.
  const viewer = data.viewer ?? viewerOf(request);
  const html = ctx.views.render(view, {
    ...data,
    viewer,
    assets: ctx.assets,
    competition: ctx.competition,
    base: ctx.base,
    // The page's path within the competition, as the header's links compare it.
    path: request.url.split("?")[0]?.slice(ctx.base.pages.length) || "/",
  });
  // Pages that depend on who is signed in (and those showing a new token) must not be stored.
  if (viewer) reply.header("cache-control", "private, no-store");
  return reply.status(status).type("text/html; charset=utf-8").send(html);
}

/** Anonymous visitors of a page that needs an account go to the sign-in form, and come back after. */
export function redirectToLogin(ctx: WebContext, request: FastifyRequest, reply: FastifyReply) {
  return reply.redirect(`${ctx.base.pages}/login?next=${encodeURIComponent(request.url)}`, 303);
}
