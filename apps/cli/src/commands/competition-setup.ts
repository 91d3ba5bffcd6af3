import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { defaultPhases, parsePhaseLines, PHASE_LINE_FORMAT, PhaseLineError } from "@holdout/contracts";
import {
  CompetitionSlugTakenError,
  CompetitionSpecError,
  createCompetition,
  listCompetitions,
  PhaseSpecError,
  SCORERS,
  showCompetition,
  phaseJson,
  updateCompetitionProse,
  type Phase,
} from "@holdout/db";
import { isScorerName, SCORER_NAMES } from "@holdout/scorer";
import { checkCompetitionSets, CompetitionSetsError } from "@holdout/testset";
import { UsageError, withOrganizerDb } from "../organizer-db.ts";
import { cliActor } from "./cli-actor.ts";

interface CreateOptions {
  slug: string;
  name: string;
  testset: string;
  devset?: string;
  scorer?: string;
  phase: string[];
  phases?: string;
  terms?: string;
  json?: boolean;
}

/** A Markdown file an option names (`--terms`, `--overview`, …), as text; an empty file means none. */
async function markdownFile(option: string, file: string): Promise<string> {
  try {
    return (await readFile(file, "utf8")).replace(/\r\n/g, "\n");
  } catch (cause) {
    throw new UsageError(`${option}: cannot read ${file}`, { cause });
  }
}

const USER_ERRORS = [
  CompetitionSetsError,
  CompetitionSpecError,
  CompetitionSlugTakenError,
  PhaseSpecError,
  PhaseLineError,
];

const when = (d: Date | null) => (d ? d.toISOString() : "until closed");
const phaseLine = (p: Phase) =>
  `${p.ordinal}. ${p.name}: ${p.data}, ${p.feedback} feedback, ${p.ranked ? "ranked" : "unranked"}, ${p.startsAt.toISOString()} → ${when(p.endsAt)}`;
const phaseOrNull = (p: Phase | null) => p && phaseJson(p);

/** The phase lines of `--phase` (repeated) and `--phases FILE` (one per line), in that order. */
async function phaseLinesOf(opts: CreateOptions): Promise<string[]> {
  const lines = [...opts.phase];
  if (opts.phases !== undefined) {
    let text: string;
    try {
      text = await readFile(opts.phases, "utf8");
    } catch (cause) {
      throw new UsageError(`--phases: cannot read ${opts.phases}`, { cause });
    }
    lines.push(...text.split("\n"));
  }
  return lines;
}

/** `holdout competition create|list|show`: organizers, on the server's database. */
export function addSetupCommands(competition: Command): void {
  competition
    .command("create")
    .description(
      "create a competition: its test set (and development set) are validated, their content hashed, and its phases recorded",
    )
    .requiredOption("--slug <slug>", "short name in URLs: lowercase letters, digits and -")
    .requiredOption("--name <name>", "the competition's display name")
    .requiredOption("--testset <dir>", "the hidden test set's directory, as the workers see it")
    .option("--devset <dir>", "the development set's directory (public labels)")
    .option(
      "--scorer <name>",
      `${SCORER_NAMES.join(" or ")}; the test set's manifest names it, and this must agree`,
    )
    .option(
      "--phase <line>",
      `a phase, ${PHASE_LINE_FORMAT} (repeat, in order); default: one ranked hidden-set phase open from now`,
      (v: string, prev: string[]) => [...prev, v],
      [],
    )
    .option("--phases <file>", "phases from a file, one line each in the --phase format (# comments)")
    .option(
      "--terms <file>",
      "the data-use terms teams accept when they register (Markdown); default: the server's standard text",
    )
    .option("--json", "print the created competition as JSON")
    .action(async (opts: CreateOptions) => {
      await withOrganizerDb(async (db) => {
        if (opts.scorer !== undefined && !isScorerName(opts.scorer)) {
          throw new UsageError(`--scorer: must be one of ${SCORER_NAMES.join(", ")}, got ${opts.scorer}`);
        }
        const now = new Date();
        const lines = await phaseLinesOf(opts);
        const terms = opts.terms === undefined ? null : await markdownFile("--terms", opts.terms);
        const phases = lines.length > 0 ? parsePhaseLines(lines, now) : defaultPhases(now);
        if (phases.length === 0) throw new UsageError("--phases: the file names no phase");
        // Paths as the workers will read them: relative to where the command ran means nothing there.
        const testsetDir = resolve(opts.testset);
        const devsetDir = opts.devset === undefined ? null : resolve(opts.devset);
        const sets = await checkCompetitionSets({
          testsetDir,
          devsetDir,
          ...(opts.scorer === undefined ? {} : { scorer: opts.scorer }),
        });
        const created = await createCompetition(
          db,
          { actor: cliActor() },
          {
            slug: opts.slug,
            name: opts.name,
            testsetDir,
            testsetSha256: sets.testsetSha256,
            devsetDir,
            devsetSha256: sets.devsetSha256,
            scorer: SCORERS[sets.scorer],
            tasks: sets.tasks,
            terms: terms?.trim() ? terms : null,
            phases,
          },
        );
        if (opts.json) {
          console.log(
            JSON.stringify({
              slug: created.slug,
              name: created.name,
              scorer: sets.scorer,
              tasks: sets.tasks,
              testsetSha256: created.testsetSha256,
              phases: created.phases.map(phaseJson),
            }),
          );
          return;
        }
        console.log(
          `competition ${created.slug} created: ${created.name} (${sets.scorer}: ${sets.tasks.join(", ")})`,
        );
        for (const p of created.phases) console.log(`  ${phaseLine(p)}`);
      }, USER_ERRORS);
    });

  competition
    .command("list")
    .description("every competition on this server, with where it stands and its current or next phase")
    .option("--json", "print them as JSON")
    .action(async (opts: { json?: boolean }) => {
      await withOrganizerDb(async (db) => {
        const all = await listCompetitions(db);
        if (opts.json) {
          const rows = all.map((c) => ({
            slug: c.slug,
            name: c.name,
            scorer: c.scorer,
            status: c.status,
            currentPhase: phaseOrNull(c.currentPhase),
            nextPhase: phaseOrNull(c.nextPhase),
          }));
          console.log(JSON.stringify(rows));
          return;
        }
        if (all.length === 0) console.log("no competitions yet: `holdout competition create` makes one");
        for (const c of all) {
          const phase = c.currentPhase
            ? `phase ${c.currentPhase.name} until ${when(c.currentPhase.endsAt)}`
            : c.nextPhase
              ? `next phase ${c.nextPhase.name} opens ${c.nextPhase.startsAt.toISOString()}`
              : "no phase ahead";
          console.log(`${c.slug}\t${c.status}\t${c.scorer}\t${c.name}\t${phase}`);
        }
      });
    });

  competition
    .command("show")
    .description("one competition: its sets, scorer, settings and phases")
    .argument("<slug>", "the competition's slug")
    .option("--json", "print it as JSON")
    .action(async (slug: string, opts: { json?: boolean }) => {
      await withOrganizerDb(async (db) => {
        const c = await showCompetition(db, slug);
        if (!c)
          throw new UsageError(`no competition ${slug} in this database (\`holdout competition list\`)`);
        if (opts.json) {
          console.log(
            JSON.stringify({
              slug: c.slug,
              name: c.name,
              scorer: c.scorer,
              tasks: c.tasks,
              status: c.status,
              testsetDir: c.testsetDir,
              testsetSha256: c.testsetSha256,
              devsetDir: c.devsetDir,
              quotaPerDay: c.quotaPerDay,
              quotaTotal: c.quotaTotal,
              closedAt: c.closedAt?.toISOString() ?? null,
              phases: c.phases.map(phaseJson),
            }),
          );
          return;
        }
        console.log(`${c.slug}: ${c.name} (${c.status})`);
        console.log(`  scorer: ${c.scorer} on ${c.tasks.join(", ")}`);
        console.log(`  test set: ${c.testsetDir ?? "–"} (sha256 ${c.testsetSha256 ?? "–"})`);
        console.log(`  development set: ${c.devsetDir ?? "none"}`);
        console.log(`  quota: ${c.quotaPerDay} a day, ${c.quotaTotal} in all`);
        if (c.closedAt) console.log(`  closed at ${c.closedAt.toISOString()}`);
        for (const p of c.phases) console.log(`  ${phaseLine(p)}`);
      });
    });

  competition
    .command("page")
    .description(
      "set the competition page's text (Markdown files; an empty file puts the standard text back) and its terms",
    )
    .argument("<slug>", "the competition's slug")
    .option("--overview <file>", "what the competition is about")
    .option("--data <file>", "the data and how to get it")
    .option("--rules <file>", "the rules beyond the metric")
    .option("--terms <file>", "the data-use terms teams accept when they register")
    .action(async (slug: string, opts: Partial<Record<"overview" | "data" | "rules" | "terms", string>>) => {
      await withOrganizerDb(async (db) => {
        const c = await showCompetition(db, slug);
        if (!c)
          throw new UsageError(`no competition ${slug} in this database (\`holdout competition list\`)`);
        const part = async (key: keyof typeof opts) => {
          const file = opts[key];
          if (file === undefined) return undefined;
          const text = await markdownFile(`--${key}`, file);
          return text.trim() === "" ? null : text;
        };
        const patch = {
          pageOverview: await part("overview"),
          pageData: await part("data"),
          pageRules: await part("rules"),
          terms: await part("terms"),
        };
        if (Object.values(patch).every((v) => v === undefined)) {
          throw new UsageError("give at least one of --overview, --data, --rules, --terms");
        }
        await updateCompetitionProse(db, { competitionId: c.id, actor: cliActor() }, patch);
        console.log(`competition ${slug}: page text saved; it shows at once on /c/${slug}/competition`);
      });
    });
}
