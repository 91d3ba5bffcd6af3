import { z } from "zod";
import { directory, parseConfig, positiveInt, postgresUrl, queuePrefix, redisUrl } from "@holdout/contracts";

const flag = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0"], { error: "must be true or false" })
    .default(fallback ? "true" : "false")
    .transform((v) => v === "true" || v === "1");

export const ApiConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default("127.0.0.1"),
  /**
   * Port of the API's ops listener: /metrics (and /healthz, /readyz), apart from the public port so
   * that nothing routed to the API reaches them; 0 picks a free port.
   */
  HOLDOUT_OPS_PORT: z.coerce.number().int().min(0).max(65535).default(9465),
  /** Address of the ops listener: loopback keeps it to this host; `0.0.0.0` in a container (Compose). */
  HOLDOUT_OPS_HOST: z.string().min(1).default("127.0.0.1"),
  DATABASE_URL: postgresUrl,
  REDIS_URL: redisUrl,
  HOLDOUT_DATA_DIR: directory("/var/lib/holdout"),
  HOLDOUT_COMPETITION: z
    .string()
    .regex(/^[a-z0-9-]+$/, { error: "must be a slug (lowercase letters, digits, -)" })
    .default("chexpert"),
  HOLDOUT_COMPETITION_NAME: z.string().min(1).default("CheXpert"),
  /** Largest accepted upload; docker save tarballs of real models run to several GB. */
  HOLDOUT_MAX_UPLOAD_BYTES: positiveInt(8 * 1024 ** 3),
  /** Largest total size of a code bundle once extracted, and its largest number of entries. */
  HOLDOUT_MAX_BUNDLE_BYTES: positiveInt(4 * 1024 ** 3),
  HOLDOUT_MAX_BUNDLE_FILES: positiveInt(20_000),
  HOLDOUT_QUEUE_PREFIX: queuePrefix,
  /** Browser sessions (the web's cookie) last this long. */
  HOLDOUT_SESSION_TTL_HOURS: positiveInt(7 * 24),
  /** The session cookie carries `Secure` unless this is false (plain-http local development). */
  HOLDOUT_COOKIE_SECURE: flag(true),
  /** Behind a reverse proxy, take the client address from X-Forwarded-For (rate limits per IP). */
  HOLDOUT_TRUST_PROXY: flag(false),
  /** Requests per window: per client IP, per API token or session, and login/registration per IP. */
  HOLDOUT_RATE_LIMIT_WINDOW_SECONDS: positiveInt(60),
  HOLDOUT_RATE_LIMIT_PER_IP: positiveInt(600),
  HOLDOUT_RATE_LIMIT_PER_TOKEN: positiveInt(300),
  HOLDOUT_RATE_LIMIT_AUTH_PER_IP: positiveInt(20),
  /** A quota slot held by an upload in progress is given back after this long (a dead API process). */
  HOLDOUT_UPLOAD_RESERVATION_HOURS: positiveInt(6),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type ApiConfig = z.infer<typeof ApiConfigSchema>;

export function loadApiConfig(env: NodeJS.ProcessEnv): ApiConfig {
  return parseConfig("the API", ApiConfigSchema, env);
}
