import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { Redis } from "ioredis";
import { ownerOf, type Owner } from "@holdout/db";
import { Errors, withRetryAt } from "../errors.ts";
import { addressKey } from "./client-address.ts";

export interface RateLimitOptions {
  windowMs: number;
  /** Requests per window from one client address (an IPv6 /64: see addressKey), whoever it is. */
  perIp: number;
  /**
   * Requests per window by one team or organizer account, all its API tokens and sessions together:
   * a new token brings no new allowance, and issuing one counts as a request.
   */
  perCredential: number;
  /** Password and registration attempts per window from one client address. */
  authPerIp: number;
  /** Redis key prefix: one per deployment (and per test stack). */
  keyPrefix: string;
}

declare module "fastify" {
  interface FastifyInstance {
    /** Route hook for endpoints that check passwords or create accounts: a stricter per-IP limit. */
    limitAuthAttempts: (request: FastifyRequest) => Promise<void>;
    /**
     * Counts a request against the owner's allowance: for a route that learns who is asking only in
     * its handler (a password), where the hook below could not count it.
     */
    limitOwner: (request: FastifyRequest, owner: Owner) => Promise<void>;
  }
}

// Probes (health, readiness) must never be throttled, or a busy load balancer takes us out.
const EXEMPT = new Set(["/healthz", "/readyz"]);

/**
 * Fixed-window counters in Redis, shared by every API process. Each check is one MULTI round trip:
 * the key is created with its expiry on first use, then incremented. When Redis is unreachable
 * the request is let through and the fault logged: losing rate limiting beats losing the API.
 */
async function hit(redis: Redis, key: string, windowMs: number): Promise<{ count: number; resetMs: number }> {
  const res = await redis.multi().set(key, "0", "PX", windowMs, "NX").incr(key).pttl(key).exec();
  if (!res) throw new Error("rate limit transaction was discarded");
  const [, [incrErr, count], [ttlErr, ttl]] = res as [
    unknown,
    [Error | null, number],
    [Error | null, number],
  ];
  if (incrErr ?? ttlErr) throw new Error("rate limit counter failed", { cause: incrErr ?? ttlErr });
  return { count, resetMs: ttl > 0 ? ttl : windowMs };
}

function makeCheck(redis: Redis, opts: RateLimitOptions) {
  return async (request: FastifyRequest, bucket: string, limit: number, what: string) => {
    let result;
    try {
      result = await hit(redis, `${opts.keyPrefix}:${bucket}`, opts.windowMs);
    } catch (err) {
      request.log.error({ err }, "rate limiting unavailable; request let through");
      return;
    }
    if (result.count > limit) {
      const at = new Date(Date.now() + result.resetMs);
      throw withRetryAt(
        new Errors.RateLimited(
          `too many requests ${what}: at most ${limit} per ${Math.round(opts.windowMs / 1000)} s; retry after ${at.toISOString()}`,
        ),
        at,
      );
    }
  };
}

/** Per client address, before any credential is looked at (so token guessing is limited too). */
export const ipRateLimit = fp(
  (app: FastifyInstance, opts: { redis: Redis; limits: RateLimitOptions }) => {
    const check = makeCheck(opts.redis, opts.limits);
    app.addHook("onRequest", async (request) => {
      if (EXEMPT.has(request.url)) return;
      await check(request, `ip:${addressKey(request.ip)}`, opts.limits.perIp, "from this address");
    });
    app.decorate("limitAuthAttempts", (request: FastifyRequest) =>
      check(
        request,
        `auth:${addressKey(request.ip)}`,
        opts.limits.authPerIp,
        "to sign in or register from this address",
      ),
    );
  },
  { name: "ip-rate-limit" },
);

const ownerBucket = (owner: Owner) =>
  "teamId" in owner ? `owner:team:${owner.teamId}` : `owner:account:${owner.accountId}`;

/**
 * Per team or organizer account (whichever API token or session it uses); registered after `auth`,
 * which resolved the credential. Keyed by the owner, not the token: each new token used to bring a
 * fresh allowance, so minting tokens multiplied the limit.
 */
export const credentialRateLimit = fp(
  (app: FastifyInstance, opts: { redis: Redis; limits: RateLimitOptions }) => {
    const check = makeCheck(opts.redis, opts.limits);
    const limitOwner = (request: FastifyRequest, owner: Owner) =>
      check(
        request,
        ownerBucket(owner),
        opts.limits.perCredential,
        "with the API tokens and sessions of this team or account",
      );
    app.addHook("onRequest", async (request) => {
      if (request.principal) await limitOwner(request, ownerOf(request.principal));
    });
    app.decorate("limitOwner", limitOwner);
  },
  { name: "credential-rate-limit", dependencies: ["auth"] },
);
