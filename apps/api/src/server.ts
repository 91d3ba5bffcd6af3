import os from "node:os";
import { Redis } from "ioredis";
import { createQueue, QUEUE_EVALUATE, QUEUE_NOTIFY, runMain } from "@holdout/contracts";
import { startOpsServer, type OpsServer } from "@holdout/contracts/ops";
import { createDb, ensureCompetition } from "@holdout/db";
import { buildApp } from "./app.ts";
import { loadApiConfig } from "./config.ts";
import { apiReadinessProbes } from "./routes/health.ts";

async function main() {
  const config = loadApiConfig(process.env);
  const db = createDb(config.DATABASE_URL);
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3 });
  const queue = createQueue(redis, QUEUE_EVALUATE, { prefix: config.HOLDOUT_QUEUE_PREFIX });
  const notifyQueue = createQueue(redis, QUEUE_NOTIFY, { prefix: config.HOLDOUT_QUEUE_PREFIX });
  const competition = await ensureCompetition(db, {
    slug: config.HOLDOUT_COMPETITION,
    name: config.HOLDOUT_COMPETITION_NAME,
  });
  const app = await buildApp({
    db,
    redis,
    queue,
    notifyQueue,
    competition,
    dataDir: config.HOLDOUT_DATA_DIR,
    maxUploadBytes: config.HOLDOUT_MAX_UPLOAD_BYTES,
    session: {
      ttlMs: config.HOLDOUT_SESSION_TTL_HOURS * 3600_000,
      cookieSecure: config.HOLDOUT_COOKIE_SECURE,
    },
    rateLimit: {
      windowMs: config.HOLDOUT_RATE_LIMIT_WINDOW_SECONDS * 1000,
      perIp: config.HOLDOUT_RATE_LIMIT_PER_IP,
      perCredential: config.HOLDOUT_RATE_LIMIT_PER_TOKEN,
      authPerIp: config.HOLDOUT_RATE_LIMIT_AUTH_PER_IP,
      keyPrefix: `${config.HOLDOUT_QUEUE_PREFIX}:ratelimit`,
    },
    bundleLimits: { maxBytes: config.HOLDOUT_MAX_BUNDLE_BYTES, maxFiles: config.HOLDOUT_MAX_BUNDLE_FILES },
    reservationTtlMs: config.HOLDOUT_UPLOAD_RESERVATION_HOURS * 3600_000,
    layerStore: {
      retentionMs: config.HOLDOUT_LAYER_RETENTION_DAYS * 24 * 3600_000,
      maxTeamBytes: config.HOLDOUT_LAYER_STORE_BYTES_PER_TEAM,
    },
    trustProxy: config.HOLDOUT_TRUST_PROXY,
    maxLiveTokens: config.HOLDOUT_MAX_LIVE_TOKENS,
    webhookAllowPrivate: config.HOLDOUT_WEBHOOK_ALLOW_PRIVATE,
    eventStreams: {
      perOwner: config.HOLDOUT_EVENT_STREAMS_PER_TEAM,
      perAddress: config.HOLDOUT_EVENT_STREAMS_PER_IP,
    },
    // One JSON object per line on stdout (pino): what log shippers and `docker logs` expect. Each
    // request's lines carry its reqId (X-Request-ID), and submission routes their submissionId.
    logger: {
      level: config.LOG_LEVEL,
      base: { app: "api", hostname: os.hostname(), pid: process.pid },
      timestamp: () => `,"time":"${new Date().toISOString()}"`,
      // Tokens travel in this header; keep them out of every log line.
      redact: ["req.headers.authorization", "req.headers.cookie", 'res.headers["set-cookie"]'],
    },
  });

  let ops: OpsServer | null = null;
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, "shutting down");
    // Stop accepting, let in-flight requests finish, then close the stores; each step runs even
    // if an earlier one fails.
    const steps: (() => Promise<unknown>)[] = [
      async () => ops?.close(),
      () => app.close(),
      () => queue.close(),
      () => notifyQueue.close(),
      () => redis.quit(),
      () => db.$disconnect(),
    ];
    for (const step of steps) {
      await step().catch((err: unknown) => app.log.error({ err }, "shutdown step failed"));
    }
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));

  await app.listen({ port: config.PORT, host: config.HOST });
  // /metrics (and the probes) on a listener of their own, never on the public port.
  ops = await startOpsServer({
    port: config.HOLDOUT_OPS_PORT,
    host: config.HOLDOUT_OPS_HOST,
    probes: apiReadinessProbes({ db, redis }),
    metrics: app.metricsRegistry,
    log: app.log,
  });
  app.log.info({ url: ops.url }, "ops listener (/metrics, /healthz, /readyz) started");
}

runMain(main);
