import { createInterface } from "node:readline/promises";
import { Command } from "commander";
import { closeCompetition, CompetitionAlreadyClosedError, findCompetitionBySlug } from "@holdout/db";
import { UsageError, withOrganizerDb } from "../organizer-db.ts";
import { cliActor } from "./cli-actor.ts";
import { addPhasesCommand } from "./competition-phases.ts";
import { addSetupCommands } from "./competition-setup.ts";
import { queueTieMarks } from "./tie-marks.ts";

export { cliActor };

/** The first line of standard input, after a prompt on standard error. */
async function ask(prompt: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false });
  try {
    process.stderr.write(prompt);
    for await (const line of rl) return line.trim();
    return "";
  } finally {
    rl.close();
  }
}

interface CloseOptions {
  competition?: string;
  yes?: boolean;
  json?: boolean;
}

/** `holdout competition …`: the competition's life cycle, run on the server. */
export function competitionCommand(): Command {
  const competition = new Command("competition").description(
    "the competitions' life cycle (organizers, run on the server with DATABASE_URL)",
  );
  addSetupCommands(competition);
  addPhasesCommand(competition);
  competition
    .command("close")
    .description(
      "close the competition: uploads are refused from now on, the hidden-set curves of every listed entry are published, and with a split the finals are ranked on the private part. Cannot be undone",
    )
    .option("--competition <slug>", "competition slug (default: $HOLDOUT_COMPETITION or chexpert)")
    .option("--yes", "close without asking (for scripts); otherwise the slug is asked for on stdin")
    .option("--json", "print {slug, state, closedAt, closedBy} as JSON")
    .action(async (opts: CloseOptions) => {
      await withOrganizerDb(
        async (db, config) => {
          const slug = opts.competition ?? config.HOLDOUT_COMPETITION;
          const c = await findCompetitionBySlug(db, slug);
          if (!c) throw new UsageError(`no competition ${slug} in this database`);
          if (c.state === "closed") throw new CompetitionAlreadyClosedError(c.closedAt);
          if (!opts.yes) {
            const typed = await ask(
              `Closing "${c.name}" refuses every further upload and publishes the hidden-set curves. It cannot be undone.\nType the competition's slug (${slug}) to close it: `,
            );
            if (typed !== slug) throw new UsageError("not closed: the slug typed does not match");
          }
          const closed = await closeCompetition(db, { competitionId: c.id, actor: cliActor() });
          let queued = false;
          if (c.splitFraction !== null) {
            // Closed already: a queue that cannot be reached is worth a note, not a failure.
            queued = await queueTieMarks(config, c.id, "the competition closed").catch((err: unknown) => {
              console.error(`note: could not queue the tie marks: ${(err as Error).message}`);
              return false;
            });
          }
          if (opts.json) {
            console.log(
              JSON.stringify({
                slug,
                state: "closed",
                closedAt: closed.closedAt.toISOString(),
                closedBy: closed.closedBy,
              }),
            );
          } else {
            console.log(
              `competition ${slug} closed at ${closed.closedAt.toISOString()} (${closed.closedBy})`,
            );
            if (c.splitFraction !== null) {
              console.log(
                `${closed.finalsChosen} team(s) without a final choice are ranked on their best public entry`,
              );
            }
          }
          if (c.splitFraction !== null && !queued) {
            console.error(
              "note: REDIS_URL is not set, so the final board's tie marks are computed at the workers' next refresh (a re-score, or a score still in the queue)",
            );
          }
        },
        [CompetitionAlreadyClosedError],
      );
    });
  return competition;
}
