import { Command } from "commander";
import type { SubmissionView } from "@holdout/contracts/http";
import { COMPETITION_OPTION_HELP, postJson, remoteFrom } from "../api-client.ts";
import { printableLine } from "../terminal-text.ts";
import { UsageError } from "../usage-error.ts";

/**
 * `holdout hide ID` / `holdout unhide ID`: take a submission off the public leaderboard, or put it
 * back. The team keeps seeing it whole; an organizer may do either for any team.
 */
export function visibilityCommand(action: "hide" | "unhide"): Command {
  return new Command(action)
    .description(
      action === "hide"
        ? "take one of your submissions off the public leaderboard (you still see it; `unhide` puts it back)"
        : "put a hidden submission back on the public leaderboard",
    )
    .argument("<id>", "the submission id")
    .option("--server <url>", "the Holdout server (default: $HOLDOUT_SERVER)")
    .option("--token <token>", "your team's API token (default: $HOLDOUT_TOKEN)")
    .option("--competition <slug>", COMPETITION_OPTION_HELP)
    .action(async (id: string, opts: { server?: string; token?: string; competition?: string }) => {
      const remote = remoteFrom(opts, process.env, true);
      if (!/^[0-9a-f-]{36}$/i.test(id)) throw new UsageError(`${id} is not a submission id`);
      const s = await postJson<SubmissionView>(remote, `/api/v1/submissions/${id}/${action}`);
      const where = s.hidden ? "hidden from the public leaderboard" : "on the public leaderboard when listed";
      console.log(`submission ${s.id}  ${printableLine(s.model)}: ${where}`);
    });
}
