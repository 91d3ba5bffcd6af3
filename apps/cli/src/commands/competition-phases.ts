import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { formatPhaseLine, parsePhaseLines, PHASE_LINE_FORMAT, PhaseLineError } from "@holdout/contracts";
import {
  CompetitionClosedForPlanError,
  findCompetitionBySlug,
  listPhases,
  phaseJson,
  PhaseSpecError,
  replacePhasePlan,
} from "@holdout/db";
import { UsageError, withOrganizerDb } from "../organizer-db.ts";
import { cliActor } from "./cli-actor.ts";

interface PhasesOptions {
  phase: string[];
  phases?: string;
  json?: boolean;
}

/** The lines of `--phase` (repeated) and `--phases FILE` (`-`: standard input), in that order. */
async function planLines(opts: PhasesOptions): Promise<string[]> {
  const lines = [...opts.phase];
  if (opts.phases !== undefined) {
    try {
      const text =
        opts.phases === "-"
          ? await new Response(process.stdin as never).text()
          : await readFile(opts.phases, "utf8");
      lines.push(...text.split("\n"));
    } catch (cause) {
      throw new UsageError(`--phases: cannot read ${opts.phases}`, { cause });
    }
  }
  return lines;
}

/**
 * `holdout competition phases SLUG`: prints the plan of phases as lines; with `--phase`/`--phases`
 * replaces it (dates moved, the open phase extended or ended early, phases to come added, changed
 * or dropped; phases that have started keep what their entries were made under).
 */
export function addPhasesCommand(competition: Command): void {
  competition
    .command("phases")
    .description(
      "print a competition's phases, one line each; with --phase or --phases, replace the plan (phases that have started keep their name, data, feedback, ranking and start; the open one may end sooner or later, never in the past)",
    )
    .argument("<slug>", "the competition's slug")
    .option(
      "--phase <line>",
      `a phase of the new plan, ${PHASE_LINE_FORMAT} (repeat, in order; every phase, started ones included)`,
      (v: string, prev: string[]) => [...prev, v],
      [],
    )
    .option("--phases <file>", "the new plan from a file (- for standard input), one line each (# comments)")
    .option("--json", "print the phases as JSON")
    .action(async (slug: string, opts: PhasesOptions) => {
      await withOrganizerDb(
        async (db) => {
          const c = await findCompetitionBySlug(db, slug);
          if (!c)
            throw new UsageError(`no competition ${slug} in this database (\`holdout competition list\`)`);
          const lines = await planLines(opts);
          const given = opts.phase.length > 0 || opts.phases !== undefined;
          let phases = await listPhases(db, c.id);
          if (given) {
            const plan = parsePhaseLines(lines, new Date());
            if (plan.length === 0) throw new UsageError("the new plan names no phase");
            const changed = await replacePhasePlan(db, { actor: cliActor() }, c.id, plan);
            phases = changed.phases;
            if (!opts.json) {
              console.error(changed.changes.length > 0 ? changed.changes.join("\n") : "no change");
            }
          }
          if (opts.json) {
            console.log(JSON.stringify(phases.map(phaseJson)));
            return;
          }
          if (!given) console.log(`# ${slug}: ${PHASE_LINE_FORMAT}`);
          for (const p of phases) console.log(formatPhaseLine(p));
        },
        [PhaseLineError, PhaseSpecError, CompetitionClosedForPlanError],
      );
    });
}
