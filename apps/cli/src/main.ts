import { Command } from "commander";
import { adminCommand } from "./commands/admin.ts";
import { baselineCommand } from "./commands/baseline.ts";
import { auditCommand } from "./commands/audit.ts";
import { competitionCommand } from "./commands/competition.ts";
import { leaderboardCommand } from "./commands/leaderboard.ts";
import { scoreCommand } from "./commands/score.ts";
import { statusCommand } from "./commands/status.ts";
import { submitCommand } from "./commands/submit.ts";
import { teamCommand } from "./commands/team.ts";
import { testsetCommand } from "./commands/testset.ts";
import { visibilityCommand } from "./commands/visibility.ts";
import { runCli } from "./program.ts";

// The server's `holdout`: every command, the organizers' included (they read DATABASE_URL).
await runCli(
  new Command("holdout")
    .description("Holdout: hidden-test-set evaluation of containerized models")
    .addCommand(scoreCommand())
    .addCommand(testsetCommand())
    .addCommand(teamCommand())
    .addCommand(adminCommand())
    .addCommand(competitionCommand())
    .addCommand(baselineCommand())
    .addCommand(auditCommand())
    .addCommand(submitCommand())
    .addCommand(statusCommand())
    .addCommand(leaderboardCommand())
    .addCommand(visibilityCommand("hide"))
    .addCommand(visibilityCommand("unhide")),
);
