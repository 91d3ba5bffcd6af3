import type { QuotaStatus } from "@holdout/db";
import { Errors, withRetryAt } from "../errors.ts";

export function quotaView(s: QuotaStatus) {
  return { ...s, nextSlotAt: s.nextSlotAt?.toISOString() ?? null };
}

/** The 429 for a team without a free slot: when the next one opens, or that none will. */
export function quotaError(s: QuotaStatus): Error {
  if (s.totalExhausted) {
    return new Errors.QuotaExhausted(
      `your team has used all ${s.total} submissions of this competition; infrastructure failures are not counted`,
    );
  }
  const at = s.nextSlotAt ?? new Date(Date.now() + 60_000);
  return withRetryAt(
    new Errors.QuotaExceeded(
      `your team has used its ${s.perDay} submissions of the last 24 hours (uploads in progress included); the next slot opens at ${at.toISOString()}`,
    ),
    at,
  );
}
