import { Command } from "commander";
import type { RankedLeaderboard } from "@holdout/contracts/http";
import { COMPETITION_OPTION_HELP, getJson, remoteFrom } from "../api-client.ts";
import { table } from "../render.ts";
import { printableLine, terminalJson } from "../terminal-text.ts";

export function leaderboardCommand(): Command {
  return new Command("leaderboard")
    .description("the public leaderboard")
    .option("--server <url>", "the Holdout server (default: $HOLDOUT_SERVER)")
    .option("--competition <slug>", COMPETITION_OPTION_HELP)
    .option("--json", "print the server's JSON")
    .action(async (opts: { server?: string; competition?: string; json?: boolean }) => {
      // Public: sent without a token, so a stale HOLDOUT_TOKEN cannot get in the way.
      const { server, competition } = opts;
      const remote = {
        ...remoteFrom(
          { ...(server ? { server } : {}), ...(competition ? { competition } : {}) },
          process.env,
          false,
        ),
        token: null,
      };
      const board = await getJson<RankedLeaderboard>(remote, "/api/v1/leaderboard");
      if (opts.json) {
        console.log(terminalJson(board, 2));
        return;
      }
      console.log(`${printableLine(board.competition.name)} leaderboard`);
      if (board.entries.length === 0) {
        console.log("(no entries yet)");
        return;
      }
      console.log(
        table(
          ["Rank", "Date", "Team", "Model", "AUC", "Rads"],
          board.entries.map((e) => [
            String(e.rank),
            e.date.slice(0, 10),
            `${printableLine(e.team)}${e.baseline ? " [baseline]" : ""}`,
            `${printableLine(e.model)}${e.ensemble ? " (ensemble)" : ""}`,
            `${e.display.auc}${e.earlierTestset ? " †" : ""}`,
            e.display.rads,
          ]),
        ),
      );
      if (board.entries.some((e) => e.earlierTestset)) {
        console.log("† scored on an earlier version of the test set, not yet re-scored");
      }
    });
}
