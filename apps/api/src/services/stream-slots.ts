import { randomUUID } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import type { Owner } from "@holdout/db";
import { Errors, withRetryAt } from "../errors.ts";
import { addressKey } from "../plugins/client-address.ts";

export interface StreamSlotOptions {
  /** Open streams at once per team (or organizer account). */
  perOwner: number;
  /** Open streams at once per client address (an IPv6 /64: see addressKey). */
  perAddress: number;
  /** Redis key prefix: one per deployment (and per test stack). */
  keyPrefix: string;
  /** A slot not renewed for this long is free again (its API process died without releasing it). */
  leaseMs?: number;
}

/** One open stream's hold on its owner's and its address's slots, until released. */
export interface StreamSlot {
  release(): void;
}

// Takes a slot in both sets at once or in neither. Each set holds one member per open stream, scored
// by when its lease ends; expired members (streams of a process that died) are dropped first.
// Redis's clock, not each API host's, decides what has expired.
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[4])
for i = 1, 2 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now) end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 2 end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], lease)
end
return 0`;

const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
return 0`;

const DEFAULT_LEASE_MS = 60_000;

const NO_SLOT: StreamSlot = { release() {} };

/**
 * Caps on concurrent server-sent event streams, shared by every API process through Redis: a stream
 * holds a slot of its team (or organizer account) and one of its client address while it is open,
 * renewed while it lives and released when it closes. Over either cap the request is refused (429,
 * Retry-After) before the stream opens. When Redis is unreachable the stream is let through and the
 * fault logged, as the rate limits do: losing the cap beats losing the API.
 */
export function streamSlots(redis: Redis, opts: StreamSlotOptions) {
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  const retryAfterMs = Math.min(30_000, leaseMs);

  return async function acquire(request: FastifyRequest, owner: Owner): Promise<StreamSlot> {
    const who = "teamId" in owner ? `team:${owner.teamId}` : `account:${owner.accountId}`;
    const keys = [`${opts.keyPrefix}:owner:${who}`, `${opts.keyPrefix}:addr:${addressKey(request.ip)}`];
    const member = randomUUID();
    let full: number;
    try {
      full = Number(await redis.eval(ACQUIRE, 2, ...keys, member, opts.perOwner, opts.perAddress, leaseMs));
    } catch (err) {
      request.log.error({ err }, "event stream caps unavailable; stream let through");
      return NO_SLOT;
    }
    if (full !== 0) {
      const [limit, whose] =
        full === 1 ? [opts.perOwner, "for this team or account"] : [opts.perAddress, "from this address"];
      throw withRetryAt(
        new Errors.TooManyStreams(
          `too many event streams open at once ${whose} (at most ${limit}): close one, or poll the submission instead`,
        ),
        new Date(Date.now() + retryAfterMs),
      );
    }
    const logFailure = (what: string) => (err: unknown) =>
      request.log.warn({ err }, `event stream slot not ${what}; its lease frees it`);
    const renew = setInterval(() => {
      redis.eval(RENEW, 2, ...keys, member, leaseMs).catch(logFailure("renewed"));
    }, leaseMs / 3);
    let released = false;
    return {
      release() {
        if (released) return;
        released = true;
        clearInterval(renew);
        redis.multi().zrem(keys[0]!, member).zrem(keys[1]!, member).exec().catch(logFailure("released"));
      },
    };
  };
}

export type AcquireStreamSlot = ReturnType<typeof streamSlots>;
