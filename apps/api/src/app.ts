import path from "node:path";
import { fileURLToPath } from "node:url";
import multipart from "@fastify/multipart";
import swagger from "@fastify/swagger";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Eta } from "eta";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { Redis } from "ioredis";
import type { EvaluateQueue } from "@holdout/contracts";
import type { Db } from "@holdout/db";
import { clientErrorHandler } from "./client-errors.ts";
import { openapiOptions } from "./openapi.ts";
import { auth } from "./plugins/auth.ts";
import { trustProxyOption, type TrustProxy } from "./plugins/client-address.ts";
import { metrics } from "./plugins/metrics.ts";
import { frameworkErrors, problemJson } from "./plugins/problem-json.ts";
import { genRequestId, requestId } from "./plugins/request-id.ts";
import { securityHeaders } from "./plugins/security-headers.ts";
import { credentialRateLimit, ipRateLimit, type RateLimitOptions } from "./plugins/rate-limit.ts";
import accountRoutes from "./routes/accounts.ts";
import cliRoutes, { cliPackageRoutes } from "./routes/cli.ts";
import competitionAdminRoutes from "./routes/admin-competition.ts";
import adminRoutes from "./routes/admin.ts";
import finalsRoutes from "./routes/finals.ts";
import healthRoutes from "./routes/health.ts";
import leaderboardRoutes, { leaderboardCsvRoutes } from "./routes/leaderboard.ts";
import submissionDetailRoutes from "./routes/submission-details.ts";
import submissionRoutes from "./routes/submissions.ts";
import uploadRoutes from "./routes/uploads.ts";
import type { BundleLimits } from "./services/bundle.ts";
import { serverVersion } from "./services/cli-package.ts";
import { EventHub } from "./services/events-hub.ts";
import { createIntake } from "./services/intake.ts";
import { cachedLeaderboard, type CompetitionInfo } from "./services/leaderboard.ts";
import { streamSlots } from "./services/stream-slots.ts";
import { crossOriginCheck } from "./web/cross-origin.ts";
import { webPages } from "./web/index.ts";
import { createOrganizerService } from "./services/organizer.ts";

export type { TrustProxy } from "./plugins/client-address.ts";

export interface AppDeps {
  db: Db;
  redis: Redis;
  queue: EvaluateQueue;
  competition: CompetitionInfo;
  dataDir: string;
  maxUploadBytes: number;
  logger?: FastifyServerOptions["logger"];
  /** Browser sessions: lifetime, and whether the cookie is `Secure` (false only for plain-http dev). */
  session?: { ttlMs: number; cookieSecure: boolean };
  rateLimit?: Partial<RateLimitOptions>;
  bundleLimits?: BundleLimits;
  /** How long a quota slot is held for an upload in progress. */
  reservationTtlMs?: number;
  /** How often abandoned resumable uploads and dead processes' partial files are swept. */
  uploadSweepIntervalMs?: number;
  /** How often the shared poller behind the server-sent event streams reads new events. */
  eventsPollMs?: number;
  /** Which X-Forwarded-For hops name the client (only behind trusted reverse proxies). */
  trustProxy?: TrustProxy;
  /** Unrevoked API tokens one team or organizer account may hold. */
  maxLiveTokens?: number;
  /** Open event streams at once per team (or organizer account) and per client address. */
  eventStreams?: { perOwner: number; perAddress: number };
}

// The production values live in config.ts; these keep a bare buildApp() (tests) sensible.
const DEFAULT_RATE_LIMIT: RateLimitOptions = {
  windowMs: 60_000,
  perIp: 600,
  perCredential: 300,
  authPerIp: 20,
  keyPrefix: "holdout:ratelimit",
};
const DEFAULT_BUNDLE_LIMITS: BundleLimits = { maxBytes: 4 * 1024 ** 3, maxFiles: 20_000 };
const DEFAULT_MAX_LIVE_TOKENS = 10;
const DEFAULT_EVENT_STREAMS = { perOwner: 10, perAddress: 20 };

/**
 * The HTTP API's routes are registered under this prefix (docs/architecture.md, "The HTTP API"); the
 * health checks, the pages, /docs and /leaderboard.csv are not.
 */
const API_V1 = { prefix: "/api/v1" } as const;

const VIEWS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "views");

/** Builds the API with everything it needs passed in; only server.ts listens. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    trustProxy: trustProxyOption(deps.trustProxy ?? false),
    // X-Request-ID from a proxy or client when sane, else a UUID: on every log line and answer.
    genReqId: genRequestId,
    // Unknown fields of a JSON body are refused, naming them, as the schemas (additionalProperties:
    // false) and the document say; fastify's default silently drops them.
    ajv: { customOptions: { removeAdditional: false } },
    // Refusals raised outside the routes answer problem+json too: a bad URL, requests Node's
    // parser refuses (oversized headers, timeouts), and requests arriving while the server closes.
    frameworkErrors,
    clientErrorHandler,
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();
  // fastify parses text/plain bodies by default, so a text body reached the JSON schemas and was
  // refused as invalid (400); no endpoint takes text, so it is an unsupported media type (415).
  app.removeContentTypeParser("text/plain");

  await app.register(problemJson);
  await app.register(requestId);
  // Every answer names the server's version: the packaged CLI (routes/cli.ts) warns on a mismatch.
  const version = await serverVersion();
  app.addHook("onSend", (_request, reply, _payload, next) => {
    void reply.header("holdout-version", version);
    next();
  });
  await app.register(metrics, { db: deps.db, competitionId: deps.competition.id, queues: [deps.queue] });
  await app.register(securityHeaders, { hsts: deps.session?.cookieSecure ?? true });
  await app.register(crossOriginCheck);
  // The OpenAPI document is generated from the route schemas, so it cannot drift from them.
  await app.register(swagger, openapiOptions(app));
  await app.register(multipart, {
    limits: {
      fileSize: deps.maxUploadBytes,
      files: 1,
      fields: 10,
      // The longest legitimate field (description) is 2000 characters of up to 4 UTF-8 bytes.
      fieldSize: 8 * 1024,
      parts: 12,
      headerPairs: 100,
    },
    throwFileSizeLimit: true,
  });
  const limits = { ...DEFAULT_RATE_LIMIT, ...deps.rateLimit };
  await app.register(ipRateLimit, { redis: deps.redis, limits });
  await app.register(auth, { db: deps.db, competitionId: deps.competition.id });
  await app.register(credentialRateLimit, { redis: deps.redis, limits });

  const views = new Eta({ views: VIEWS_DIR, cache: true, autoEscape: true });
  await app.register(healthRoutes, { db: deps.db, redis: deps.redis });
  await app.register(cliRoutes, API_V1);
  await app.register(cliPackageRoutes);
  const board = cachedLeaderboard(deps.db, deps.competition);
  await app.register(leaderboardRoutes, { ...API_V1, board, competition: deps.competition });
  await app.register(leaderboardCsvRoutes, { board, competition: deps.competition });
  await app.register(accountRoutes, {
    ...API_V1,
    db: deps.db,
    competitionId: deps.competition.id,
    sessionTtlMs: deps.session?.ttlMs ?? 7 * 24 * 3600 * 1000,
    cookie: { secure: deps.session?.cookieSecure ?? true },
    maxLiveTokens: deps.maxLiveTokens ?? DEFAULT_MAX_LIVE_TOKENS,
  });
  const organizer = createOrganizerService({
    db: deps.db,
    competitionId: deps.competition.id,
    evaluateQueue: deps.queue,
    redis: deps.redis,
  });
  app.addHook("onClose", () => organizer.close());
  const reservationTtlMs = deps.reservationTtlMs ?? 6 * 3600 * 1000;
  // One intake for multipart and resumable uploads alike (docs/architecture.md, "A submission's path").
  const intake = createIntake({
    db: deps.db,
    queue: deps.queue,
    dataDir: deps.dataDir,
    competitionId: deps.competition.id,
    bundleLimits: deps.bundleLimits ?? DEFAULT_BUNDLE_LIMITS,
    reservationTtlMs,
  });
  await app.register(submissionRoutes, {
    ...API_V1,
    db: deps.db,
    competitionId: deps.competition.id,
    aucFloor: deps.competition.aucFloor,
    intake,
    organizer,
  });
  await app.register(finalsRoutes, { ...API_V1, db: deps.db });
  await app.register(uploadRoutes, {
    ...API_V1,
    db: deps.db,
    dataDir: deps.dataDir,
    competitionId: deps.competition.id,
    maxUploadBytes: deps.maxUploadBytes,
    intake,
    reservationTtlMs,
    sweepIntervalMs: deps.uploadSweepIntervalMs ?? 10 * 60_000,
  });
  const events = new EventHub(deps.db, deps.competition.id, {
    intervalMs: deps.eventsPollMs ?? 1000,
    onError: (err) => app.log.error({ err }, "reading submission events failed"),
  });
  app.decorate("submissionEvents", events);
  // Before the server closes: open streams would keep it waiting.
  app.addHook("preClose", () => events.close());
  await app.register(submissionDetailRoutes, {
    ...API_V1,
    db: deps.db,
    competitionId: deps.competition.id,
    aucFloor: deps.competition.aucFloor,
    events,
    queue: deps.queue,
    streamSlot: streamSlots(deps.redis, {
      ...(deps.eventStreams ?? DEFAULT_EVENT_STREAMS),
      keyPrefix: `${limits.keyPrefix}:streams`,
    }),
  });
  await app.register(adminRoutes, { ...API_V1, db: deps.db, competitionId: deps.competition.id, organizer });
  await app.register(competitionAdminRoutes, {
    ...API_V1,
    db: deps.db,
    competitionId: deps.competition.id,
    slug: deps.competition.slug,
    organizer,
  });
  await app.register(webPages, {
    db: deps.db,
    views,
    competition: deps.competition,
    board,
    organizer,
    session: {
      ttlMs: deps.session?.ttlMs ?? 7 * 24 * 3600 * 1000,
      cookie: { secure: deps.session?.cookieSecure ?? true },
    },
    maxLiveTokens: deps.maxLiveTokens ?? DEFAULT_MAX_LIVE_TOKENS,
  });
  return app;
}
