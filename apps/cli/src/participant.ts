import { Command } from "commander";
import { leaderboardCommand } from "./commands/leaderboard.ts";
import { scoreCommand } from "./commands/score.ts";
import { statusCommand } from "./commands/status.ts";
import { submitCommand } from "./commands/submit.ts";
import { testsetCommand } from "./commands/testset.ts";
import { visibilityCommand } from "./commands/visibility.ts";
import { runCli } from "./program.ts";

// The participants' `holdout`, as the server packages it (apps/api/src/services/cli-package.ts):
// the commands that talk to a server over HTTP, and the local ones (score predictions, make a
// development set). Nothing here reads a database.
await runCli(
  new Command("holdout")
    .description("Holdout: submit models to a Holdout server, follow them, read its leaderboard")
    .addCommand(submitCommand())
    .addCommand(statusCommand())
    .addCommand(leaderboardCommand())
    .addCommand(visibilityCommand("hide"))
    .addCommand(visibilityCommand("unhide"))
    .addCommand(scoreCommand())
    .addCommand(testsetCommand()),
);
