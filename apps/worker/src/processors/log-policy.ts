import { assertNever, LOG_TAIL_MARK, LOG_WITHHELD_TEXT } from "@holdout/contracts";

/**
 * What a team may read of a run's log. The hidden run's log could otherwise carry the test set out
 * (a model can print anything it reads), so the competition chooses: nothing (the default), or a short
 * tail (enough for the traceback of a crash). Organizers read the whole log whatever the policy; the
 * smoke run's log, on the public development set, is the team's in full (`full`: the sandbox has
 * already capped it).
 */
export type LogPolicy = { kind: "full" } | { kind: "none" } | { kind: "tail"; bytes: number };

export interface StoredLog {
  text: string;
  truncated: boolean;
}

export function storedLog(policy: LogPolicy, log: string, alreadyTruncated: boolean): StoredLog {
  switch (policy.kind) {
    case "full":
      return { text: log, truncated: alreadyTruncated };
    case "none":
      // Withheld, not cut: `truncated` would tell the team its log was long.
      return { text: LOG_WITHHELD_TEXT, truncated: false };
    case "tail": {
      const bytes = Buffer.from(log, "utf8");
      if (bytes.length <= policy.bytes) return { text: log, truncated: alreadyTruncated };
      // Cut on a line boundary when one is near, so the tail starts with a whole line.
      let tail = bytes.subarray(bytes.length - policy.bytes);
      const newline = tail.indexOf(0x0a);
      if (newline >= 0 && newline < tail.length - 1 && newline < policy.bytes / 4)
        tail = tail.subarray(newline + 1);
      const text = tail.toString("utf8").replace(/^\uFFFD+/, ""); // a cut multi-byte character
      return {
        text: `${LOG_TAIL_MARK}${tail.length} bytes of the hidden run's log are shown]\n${text}`,
        truncated: true,
      };
    }
    default:
      return assertNever(policy);
  }
}
