import { assertNever } from "./submission.ts";

/**
 * What a stored run log holds of what the model printed, so that the page and the CLI say what is
 * really there. The worker marks every cut in the text itself: the sandbox's size cap keeps the
 * beginning and the end around `[holdout: log truncated: …]` (packages/sandbox capped-log.ts); a
 * hidden-run policy of `tail` keeps only the end, under `[holdout: only the last …]`, and `none`
 * stores one line saying the log is not shown (apps/worker log-policy.ts).
 */
export type LogKept = "whole" | "beginning_and_end" | "end" | "withheld";

export const LOG_CUT_MARK = "[holdout: log truncated: ";
export const LOG_TAIL_MARK = "[holdout: only the last ";
export const LOG_WITHHELD_TEXT =
  "[holdout: this competition does not show the log of the hidden-test-set run]\n";

/**
 * Reads what a log kept from its text and whether it was cut. Only a cut log is read for marks (a
 * model printing one into an uncut log changes nothing); a tail's mark is its first line, which
 * the model cannot write.
 */
export function logKept(text: string, truncated: boolean): LogKept {
  if (text === LOG_WITHHELD_TEXT) return "withheld";
  if (!truncated) return "whole";
  return text.startsWith(LOG_TAIL_MARK) ? "end" : "beginning_and_end";
}

/** One sentence for a reader of the log, or null when it holds everything (or says itself that it is withheld). */
export function logKeptNote(kept: LogKept): string | null {
  switch (kept) {
    case "whole":
    case "withheld":
      return null;
    case "beginning_and_end":
      return "The log was longer than the size cap: its beginning and its end are kept, and the marked line in between says how much was dropped.";
    case "end":
      return "Only the end of the hidden run's log is shown (this competition's log policy): the marked first line says how much.";
    default:
      return assertNever(kept);
  }
}
