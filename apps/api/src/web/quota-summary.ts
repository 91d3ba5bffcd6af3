import {
  oldestCountedSubmissionAt,
  QUOTA_WINDOW_MS,
  quotaStatus,
  type Db,
  type QuotaStatus,
} from "@holdout/db";
import { formatDateTime } from "./format.ts";

export interface QuotaSummary {
  status: QuotaStatus;
  /** One sentence: what is left now. */
  left: string;
  /** When it changes: the next slot, or when the oldest counted submission leaves the window. */
  resets: string | null;
  canSubmit: boolean;
}

/**
 * The quota as a team reads it. "When it resets": the quota is a rolling 24-hour window, so the
 * useful moment is when the oldest submission still counted in it stops counting.
 */
export async function quotaSummary(db: Db, teamId: string, now = new Date()): Promise<QuotaSummary> {
  const [status, oldest] = await Promise.all([
    quotaStatus(db, teamId, now),
    oldestCountedSubmissionAt(db, teamId, now),
  ]);
  const left =
    `${status.remaining} ${status.remaining === 1 ? "submission" : "submissions"} left now: ` +
    `${Math.max(0, status.perDay - status.usedInWindow)} of ${status.perDay} in the last 24 hours, ` +
    `${Math.max(0, status.total - status.usedTotal)} of ${status.total} in the whole competition.`;
  let resets: string | null = null;
  if (status.totalExhausted) {
    resets =
      "Your team has used every submission of this competition; only infrastructure failures and failed smoke runs are given back.";
  } else if (status.nextSlotAt) {
    resets = `The next slot opens at ${formatDateTime(status.nextSlotAt)}.`;
  } else if (oldest) {
    resets = `Your oldest submission of the last 24 hours stops counting at ${formatDateTime(new Date(oldest.getTime() + QUOTA_WINDOW_MS))}.`;
  }
  return { status, left, resets, canSubmit: status.remaining > 0 };
}
