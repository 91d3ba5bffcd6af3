import path from "node:path";
import { fileURLToPath } from "node:url";
import multipart from "@fastify/multipart";
import swagger from "@fastify/swagger";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Eta } from "eta";
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from "fastify";
import type { Redis } from "ioredis";
import type { EvaluateQueue, NotifyQueue } from "@holdout/contracts";
import type { Db } from "@holdout/db";
import { clientErrorHandler } from "./client-errors.ts";
import { openapiOptions } from "./openapi.ts";
import { auth } from "./plugins/auth.ts";
import { trustProxyOption, type TrustProxy } from "./plugins/client-address.ts";
import { metrics, type ApiMetrics } from "./plugins/metrics.ts";
import { competitionScopes } from "./competition-scopes.ts";
import { frameworkErrors, problemJson } from "./plugins/problem-json.ts";
import { genRequestId, requestId } from "./plugins/request-id.ts";
import { securityHeaders } from "./plugins/security-headers.ts";
import { credentialRateLimit, ipRateLimit, type RateLimitOptions } from "./plugins/rate-limit.ts";
import cliRoutes, { cliPackageRoutes } from "./routes/cli.ts";
import downloadListRoutes, { downloadFileRoutes } from "./routes/downloads.ts";
import healthRoutes from "./routes/health.ts";
import type { BundleLimits } from "./services/bundle.ts";
import { serverVersion } from "./services/cli-package.ts";
import type { CompetitionInfo } from "./services/leaderboard.ts";
import { DEFAULT_BASE, registerCompetition } from "./competition-routes.ts";
import competitionListRoutes from "./routes/competitions.ts";
import { crossOriginCheck } from "./web/cross-origin.ts";

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
  /**
   * The layer store of layered uploads: a layer unused this long is removed, and a team's layers
   * may take this many uncompressed bytes (the least recently used go first to make room).
   */
  layerStore?: { retentionMs: number; maxTeamBytes: number };
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
  /** Where the API queues the notifications of a submission it ends itself (a cancel while queued). */
  notifyQueue?: NotifyQueue;
  /** Webhooks may be registered on loopback and private addresses (HOLDOUT_WEBHOOK_ALLOW_PRIVATE). */
  webhookAllowPrivate?: boolean;
}

// The production values live in config.ts; these keep a bare buildApp() (tests) sensible.
const DEFAULT_RATE_LIMIT: RateLimitOptions = {
  windowMs: 60_000,
  perIp: 600,
  perCredential: 300,
  authPerIp: 20,
  keyPrefix: "holdout:ratelimit",
};

/**
 * The HTTP API's routes are registered under this prefix (docs/architecture.md, "The HTTP API"); the
 * health checks, the pages, /docs and /leaderboard.csv are not.
 */
const API_V1 = { prefix: "/api/v1" } as const;

const VIEWS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "views");

/**
 * A server instance with the plugins every instance has: problem+json, request ids, metrics,
 * security headers, uploads' parsing, rate limits and credentials for one competition. The main
 * instance (buildApp) and each competition's own (competition-scopes.ts) start from it.
 */
export async function baseServer(
  deps: AppDeps,
  competitionId: string,
  options: {
    docs: boolean;
    metrics?: ApiMetrics;
    beforeRouting?: (app: FastifyInstance) => void;
    handedOver?: (request: FastifyRequest) => boolean;
  },
) {
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
  // Before the hooks below: a request handed on to another instance is limited and authenticated there.
  options.beforeRouting?.(app);
  await app.register(metrics, {
    db: deps.db,
    competitionId,
    queues: [deps.queue],
    ...(options.metrics ? { shared: options.metrics } : {}),
    ...(options.handedOver ? { handedOver: options.handedOver } : {}),
  });
  await app.register(securityHeaders, { hsts: deps.session?.cookieSecure ?? true });
  await app.register(crossOriginCheck);
  // The OpenAPI document is generated from the route schemas, so it cannot drift from them.
  if (options.docs) await app.register(swagger, openapiOptions(app));
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
  await app.register(auth, { db: deps.db, competitionId });
  await app.register(credentialRateLimit, { redis: deps.redis, limits });
  return { app, limits };
}

export const VIEWS = () => new Eta({ views: VIEWS_DIR, cache: true, autoEscape: true });

/** Builds the API with everything it needs passed in; only server.ts listens. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const views = VIEWS();
  const scopes = competitionScopes(deps, views);
  const { app, limits } = await baseServer(deps, deps.competition.id, {
    docs: true,
    // Every competition's own URLs (/api/v1/competitions/{slug}/…, /c/{slug}/…) go to its instance.
    handedOver: (request) => scopes.handedOver(request),
    beforeRouting: (a) =>
      a.addHook("onRequest", (request, reply, next) => scopes.route(request, reply, next)),
  });
  app.addHook("onClose", () => scopes.close(app.log));
  await app.register(healthRoutes, { db: deps.db, redis: deps.redis });
  await app.register(cliRoutes, API_V1);
  await app.register(cliPackageRoutes);
  await app.register(downloadListRoutes, { ...API_V1, dataDir: deps.dataDir });
  await app.register(downloadFileRoutes, { dataDir: deps.dataDir });
  await app.register(competitionListRoutes, { ...API_V1, db: deps.db });
  await registerCompetition(app, deps, deps.competition, DEFAULT_BASE, views, limits.keyPrefix);
  return app;
}
