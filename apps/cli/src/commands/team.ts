import { Command } from "commander";
import {
  BaselineTokenError,
  createTeamWithToken,
  ensureCompetition,
  issueTeamToken,
  TeamNameTakenError,
} from "@holdout/db";
import { UsageError, withOrganizerDb } from "../organizer-db.ts";

export function teamCommand(): Command {
  const team = new Command("team").description("manage teams (organizers)");
  team
    .command("create")
    .description("create a team and print its API token (shown only once)")
    .requiredOption("--name <name>", "team name, as the leaderboard shows it")
    .option("--institution <text>", "the team's institution")
    .option("--competition <slug>", "competition slug (default: $HOLDOUT_COMPETITION or chexpert)")
    .option("--json", "print {team, token} as JSON")
    .action(async (opts: { name: string; institution?: string; competition?: string; json?: boolean }) => {
      const name = opts.name.trim();
      if (name.length === 0 || name.length > 100) throw new UsageError("--name must be 1 to 100 characters");
      await withOrganizerDb(
        async (db, config) => {
          const competition = await ensureCompetition(db, {
            slug: opts.competition ?? config.HOLDOUT_COMPETITION,
            name: config.HOLDOUT_COMPETITION_NAME,
          });
          const { team: created, token } = await createTeamWithToken(db, {
            competitionId: competition.id,
            name,
            institution: opts.institution?.trim() || null,
          });
          if (opts.json) {
            console.log(JSON.stringify({ team: created, competition: competition.slug, token }));
          } else {
            console.log(
              `team "${created.name}" created in competition ${competition.slug} (id ${created.id})`,
            );
            console.log(`API token (shown only once; store it now): ${token}`);
          }
        },
        [TeamNameTakenError],
      );
    });
  team
    .command("token")
    .description("issue a new API token for an existing team (shown only once)")
    .requiredOption("--name <name>", "team name")
    .option("--competition <slug>", "competition slug (default: $HOLDOUT_COMPETITION or chexpert)")
    .option("--json", "print {team, token} as JSON")
    .action(async (opts: { name: string; competition?: string; json?: boolean }) => {
      await withOrganizerDb(
        async (db, config) => {
          const issued = await issueTeamToken(db, {
            competitionSlug: opts.competition ?? config.HOLDOUT_COMPETITION,
            teamName: opts.name.trim(),
          });
          if (!issued) throw new UsageError(`no team named "${opts.name}" in that competition`);
          if (opts.json) console.log(JSON.stringify(issued));
          else console.log(`new API token for "${issued.team.name}" (shown only once): ${issued.token}`);
        },
        [BaselineTokenError],
      );
    });
  return team;
}
