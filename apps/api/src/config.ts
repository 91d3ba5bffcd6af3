import { z } from "zod";
import {
  directory,
  flag,
  parseConfig,
  positiveInt,
  postgresUrl,
  queuePrefix,
  redisUrl,
} from "@holdout/contracts";
import { isProxyAddress, PROXY_RANGE_NAMES, type TrustProxy } from "./plugins/client-address.ts";

const MAX_PROXY_HOPS = 10;

/** HOLDOUT_TRUST_PROXY: off, a hop count, or the proxies' addresses; "true" (every hop) is refused. */
const trustProxy = z
  .string()
  .default("false")
  .transform((raw, ctx): TrustProxy => {
    const value = raw.trim();
    if (["", "false", "0", "none"].includes(value.toLowerCase())) return false;
    if (value.toLowerCase() === "true") {
      ctx.addIssue({
        code: "custom",
        message:
          "trusting every hop lets any client set its own address: give the number of proxies in front of the API (e.g. 1) or their addresses",
      });
      return z.NEVER;
    }
    if (/^\d+$/.test(value)) {
      const hops = Number(value);
      if (hops <= MAX_PROXY_HOPS) return { hops };
      ctx.addIssue({ code: "custom", message: `at most ${MAX_PROXY_HOPS} proxy hops` });
      return z.NEVER;
    }
    const addresses = value.split(",").map((a) => a.trim());
    const bad = addresses.filter((a) => !isProxyAddress(a));
    if (bad.length > 0) {
      ctx.addIssue({
        code: "custom",
        message: `not an IP address, CIDR range or ${PROXY_RANGE_NAMES.join("/")}: ${bad.map((b) => JSON.stringify(b)).join(", ")}`,
      });
      return z.NEVER;
    }
    return { addresses };
  });

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
  /**
   * Behind reverse proxies, which X-Forwarded-For hops to believe for the client's address (every
   * per-address limit uses it): `false` (none: the socket's peer is the client), a hop count `N`
   * (the N nearest proxies; only when nothing else can reach the API), or a comma-separated list of
   * the proxies' addresses and CIDR ranges (`loopback`, `linklocal`, `uniquelocal` name their
   * ranges). `true`, every hop, is refused: any client could then pick its own address.
   */
  HOLDOUT_TRUST_PROXY: trustProxy,
  /**
   * Requests per window: per client address (an IPv6 /64), per team or organizer account (all its
   * API tokens and sessions together), and sign-in/registration attempts per address.
   */
  HOLDOUT_RATE_LIMIT_WINDOW_SECONDS: positiveInt(60),
  /** Requests per window from one client address (IPv4 address, or IPv6 /64). */
  HOLDOUT_RATE_LIMIT_PER_IP: positiveInt(600),
  /**
   * Requests per window by one team or organizer account, all its API tokens and sessions together
   * (a new token brings no new allowance; issuing one counts as a request).
   */
  HOLDOUT_RATE_LIMIT_PER_TOKEN: positiveInt(300),
  /** Sign-in and registration attempts per window from one client address (IPv4, or IPv6 /64). */
  HOLDOUT_RATE_LIMIT_AUTH_PER_IP: positiveInt(20),
  /** Unrevoked API tokens a team (or organizer account) may hold at once; revoke one to make room. */
  HOLDOUT_MAX_LIVE_TOKENS: positiveInt(10),
  /** Server-sent event streams one team (or organizer account) may hold open at once (over it: 429). */
  HOLDOUT_EVENT_STREAMS_PER_TEAM: positiveInt(10),
  /** Server-sent event streams one client address (an IPv6 /64) may hold open at once (over it: 429). */
  HOLDOUT_EVENT_STREAMS_PER_IP: positiveInt(20),
  /** A quota slot held by an upload in progress is given back after this long (a dead API process). */
  HOLDOUT_UPLOAD_RESERVATION_HOURS: positiveInt(6),
  /**
   * Lets teams register webhooks on loopback and private addresses (local use, tests); link-local
   * (cloud metadata) and reserved ones stay refused. Set the same on the workers, which check again.
   */
  HOLDOUT_WEBHOOK_ALLOW_PRIVATE: flag(false),
  /** Layered uploads: a layer no upload sent, claimed or used for this many days leaves the store. */
  HOLDOUT_LAYER_RETENTION_DAYS: positiveInt(30),
  /**
   * Layered uploads: the uncompressed bytes one team's stored layers may take; past it, the team's
   * least recently used layers are removed to make room for a new one.
   */
  HOLDOUT_LAYER_STORE_BYTES_PER_TEAM: positiveInt(32 * 1024 ** 3),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type ApiConfig = z.infer<typeof ApiConfigSchema>;

export function loadApiConfig(env: NodeJS.ProcessEnv): ApiConfig {
  return parseConfig("the API", ApiConfigSchema, env);
}
