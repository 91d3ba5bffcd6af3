import { Command, CommanderError } from "commander";
import { ConfigError } from "@holdout/contracts";
import { UsageError } from "./organizer-db.ts";
import { printable } from "./terminal-text.ts";
import { adminCommand } from "./commands/admin.ts";
import { competitionCommand } from "./commands/competition.ts";
import { leaderboardCommand } from "./commands/leaderboard.ts";
import { scoreCommand } from "./commands/score.ts";
import { statusCommand } from "./commands/status.ts";
import { submitCommand } from "./commands/submit.ts";
import { teamCommand } from "./commands/team.ts";
import { testsetCommand } from "./commands/testset.ts";

const program = new Command("holdout")
  .description("Holdout: hidden-test-set evaluation of containerized models")
  .addCommand(scoreCommand())
  .addCommand(testsetCommand())
  .addCommand(teamCommand())
  .addCommand(adminCommand())
  .addCommand(competitionCommand())
  .addCommand(submitCommand())
  .addCommand(statusCommand())
  .addCommand(leaderboardCommand());

// Commands added with addCommand() do not inherit settings; apply them to the whole tree so a
// usage error anywhere exits 2 (invalid input) instead of commander's process.exit(1).
function configureTree(cmd: Command) {
  cmd.showHelpAfterError().exitOverride((err) => {
    throw err.exitCode === 0 ? err : new CommanderError(2, err.code, err.message);
  });
  cmd.commands.forEach(configureTree);
}
configureTree(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander already printed its message (usage errors, --help).
    process.exitCode = err.exitCode;
  } else if (err instanceof UsageError) {
    console.error(`holdout: ${err.message}`);
    process.exitCode = 2;
  } else if (err instanceof ConfigError) {
    console.error(err.message);
    process.exitCode = 2;
  } else {
    // A server's problem detail may be anyone's text.
    console.error(`holdout: ${printable(err instanceof Error ? err.message : String(err))}`);
    process.exitCode = 1;
  }
}
