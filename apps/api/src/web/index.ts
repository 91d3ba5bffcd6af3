import formbody from "@fastify/formbody";
import type { Eta } from "eta";
import type { FastifyError, FastifyInstance } from "fastify";
import { problemType } from "@holdout/contracts";
import type { Db } from "@holdout/db";
import type { CompetitionBase } from "../services/competition-base.ts";
import { competitionSummaries } from "../services/competitions.ts";
import type { CookieSettings } from "../plugins/auth.ts";
import type { CompetitionInfo, LeaderboardSource } from "../services/leaderboard.ts";
import accountPages from "./account-pages.ts";
import adminPages from "./admin-pages.ts";
import baselinePages from "./baseline-pages.ts";
import competitionPage from "./competition-page.ts";
import competitionSetupPage from "./competition-setup-page.ts";
import { apiDocs } from "./api-docs.ts";
import leaderboardPage from "./leaderboard-page.ts";
import type { BaselineService } from "../services/baselines.ts";
import type { CompetitionPageSource } from "../services/competition-page.ts";
import type { OrganizerService } from "../services/organizer.ts";
import { prefersHtml, renderPage, type WebContext } from "./render.ts";
import { registerStaticAssets } from "./static.ts";
import submissionPages from "./submission-pages.ts";
import teamPage from "./team-page.ts";
import type { NotificationService } from "../services/notifications.ts";

export interface WebOptions {
  db: Db;
  views: Eta;
  competition: CompetitionInfo;
  base: CompetitionBase;
  board: LeaderboardSource;
  session: { ttlMs: number; cookie: CookieSettings };
  organizer: OrganizerService;
  baselines: BaselineService;
  maxLiveTokens: number;
  page: CompetitionPageSource;
  notifications: NotificationService;
}

const HEADINGS: Record<number, string> = {
  400: "That request was not understood",
  401: "Please sign in",
  403: "Not allowed",
  404: "Not found",
  409: "Conflict",
  413: "Too large",
  429: "Too many requests",
};

/**
 * The HTML pages. Registered as one encapsulated plugin: the urlencoded form parser and the HTML
 * error page apply here only, so the JSON API keeps refusing form bodies and answering problem+json.
 */
export async function webPages(app: FastifyInstance, opts: WebOptions) {
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  const assets = await registerStaticAssets(app);
  const web: WebContext = { views: opts.views, assets, competition: opts.competition, base: opts.base };

  // A browser gets a page saying what went wrong (with the same stable code); any other client, or a
  // script's fetch, gets the API's problem+json from the parent handler.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (!prefersHtml(request)) throw error;
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error }, "page failed");
    const headers = (error as { headers?: Record<string, string> }).headers;
    if (headers && status < 500) reply.headers(headers);
    const code = error.validation
      ? "HOLDOUT_ERR_VALIDATION"
      : status >= 500
        ? "HOLDOUT_ERR_INTERNAL"
        : error.code?.startsWith("HOLDOUT_ERR_")
          ? error.code
          : "HOLDOUT_ERR_BAD_REQUEST";
    const detail =
      status >= 500
        ? `Something failed on our side; quote request id ${request.id} when reporting it.`
        : error.message;
    return renderPage(
      web,
      request,
      reply,
      "error",
      {
        title: HEADINGS[status] ?? "Error",
        heading: HEADINGS[status] ?? "Something went wrong",
        detail,
        status,
        code,
        codeHref: problemType(code),
      },
      status,
    );
  });

  await app.register(leaderboardPage, {
    board: opts.board,
    web,
    ...(opts.base.pages === "" ? { competitions: () => competitionSummaries(opts.db) } : {}),
  });
  await app.register(apiDocs, { web });
  await app.register(accountPages, {
    db: opts.db,
    web,
    sessionTtlMs: opts.session.ttlMs,
    cookie: opts.session.cookie,
  });
  await app.register(submissionPages, { db: opts.db, web, organizer: opts.organizer, board: opts.board });
  await app.register(teamPage, {
    db: opts.db,
    web,
    maxLiveTokens: opts.maxLiveTokens,
    notifications: opts.notifications,
  });
  await app.register(adminPages, { db: opts.db, web, organizer: opts.organizer, baselines: opts.baselines });
  await app.register(baselinePages, { db: opts.db, web, baselines: opts.baselines });
  await app.register(competitionSetupPage, { db: opts.db, web });
  await app.register(competitionPage, { db: opts.db, web, page: opts.page });
}
