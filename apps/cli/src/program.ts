import type { Command } from "commander";
import { CommanderError } from "commander";
import { ConfigError } from "@holdout/contracts";
import { printable } from "./terminal-text.ts";
import { UsageError } from "./usage-error.ts";

/**
 * Runs a `holdout` program: the server's (every command, apps/cli/src/main.ts) or the participants'
 * package (apps/cli/src/participant.ts). Exit codes: 0 done, 1 failed, 2 invalid input.
 */
export async function runCli(program: Command): Promise<void> {
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
}

// Commands added with addCommand() do not inherit settings; apply them to the whole tree so a
// usage error anywhere exits 2 (invalid input) instead of commander's process.exit(1).
function configureTree(cmd: Command) {
  cmd.showHelpAfterError().exitOverride((err) => {
    throw err.exitCode === 0 ? err : new CommanderError(2, err.code, err.message);
  });
  cmd.commands.forEach(configureTree);
}
