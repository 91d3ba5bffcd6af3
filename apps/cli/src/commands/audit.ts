import { Command } from "commander";
import {
  findCompetitionBySlug,
  findCompetitionSets,
  findScoreForAudit,
  getCompetitionPolicy,
  listScoredSubmissionIds,
  markTestsetChanged,
  replaceScore,
  type Db,
  type ScoreRecord,
} from "@holdout/db";
import { PredictionsError, SCORER_VERSION, type BootstrapOptions } from "@holdout/scorer";
import { contentSha256 } from "@holdout/testset";
import { loadHiddenTestset, scoreRecord, splitOf, type HiddenTestset } from "@holdout/worker/scoring";
import { compareFigures, type FigureDifference, type StoredScore } from "../audit-figures.ts";
import { UsageError, withOrganizerDb } from "../organizer-db.ts";
import { cliActor } from "./cli-actor.ts";
import { queueTieMarks } from "./tie-marks.ts";

interface AuditOptions {
  all?: boolean;
  competition?: string;
  testset?: string;
  devset?: string;
  rescore?: boolean;
  bootstrapReplicates: string;
  bootstrapSeed: string;
  json?: boolean;
}

/** One submission's audit, as printed (and as `--json` gives it). */
interface AuditResult {
  id: string;
  outcome: "identical" | "differs" | "not_auditable";
  /** Figures compared; null when nothing could be re-computed. */
  compared: number | null;
  differences: FigureDifference[];
  /** Why it could not be audited. */
  reason?: string;
  /** The set's hash recorded in the provenance (null: none recorded) and the one found now. */
  testsetSha256: { recorded: string | null; current: string };
  testsetChanged: boolean;
  /** The provenance's scorer version when it is not this code's: differences may be that. */
  scorerVersion: { recorded: string; current: string } | null;
  rescored: boolean;
  notes: string[];
}

interface LoadedSet {
  testset: HiddenTestset;
  sha256: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function integer(value: string, name: string, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new UsageError(`${name} must be an integer 0..${max}`);
  return n;
}

/**
 * `holdout audit ID… | --all`: re-scores stored predictions against the test set the competition
 * names (or --testset / --devset, the workers' configured sets, for a competition naming none) with
 * the worker's own scoring code, and says whether every stored figure is bit-identical. Exit 0 when
 * all are; 1 when a figure differs, the set changed since a score, or something could not be
 * audited. With --rescore a differing score is replaced (its history keeps before and after).
 */
export function auditCommand(): Command {
  return new Command("audit")
    .description(
      "re-score stored predictions and check that every stored figure is bit-identical (organizers, on the server with DATABASE_URL and the test set)",
    )
    .argument("[ids...]", "submission ids")
    .option("--all", "every scored submission of the competition")
    .option("--competition <slug>", "with --all: the competition (default: $HOLDOUT_COMPETITION or chexpert)")
    .option(
      "--testset <dir>",
      "the test set, for a competition that names none (the workers' HOLDOUT_TESTSET_DIR)",
    )
    .option("--devset <dir>", "the development set, likewise (HOLDOUT_DEVSET_DIR)")
    .option("--rescore", "replace a score that differs by the re-computed one, keeping both in its history")
    .option("--bootstrap-replicates <n>", "for scores with no provenance: the workers' setting", "2000")
    .option("--bootstrap-seed <n>", "for scores with no provenance: the workers' setting", "20190101")
    .option("--json", "print one JSON object per submission, one per line")
    .action(async (ids: string[], opts: AuditOptions) => {
      if (opts.all === true && ids.length > 0) throw new UsageError("give submission ids or --all, not both");
      if (opts.all !== true && ids.length === 0) throw new UsageError("give submission ids, or --all");
      for (const id of ids) if (!UUID.test(id)) throw new UsageError(`${id} is not a submission id`);
      const fallback: BootstrapOptions = {
        replicates: integer(opts.bootstrapReplicates, "--bootstrap-replicates", 1_000_000),
        seed: integer(opts.bootstrapSeed, "--bootstrap-seed", 0xffff_ffff),
      };
      await withOrganizerDb(async (db, config) => {
        let targets = ids;
        if (opts.all === true) {
          const slug = opts.competition ?? config.HOLDOUT_COMPETITION;
          const c = await findCompetitionBySlug(db, slug);
          if (!c) throw new UsageError(`no competition ${slug} in this database`);
          targets = await listScoredSubmissionIds(db, c.id);
        }
        const sets = new Map<string, Promise<LoadedSet>>();
        const load = (dir: string) => {
          let set = sets.get(dir);
          if (!set) {
            set = Promise.all([loadHiddenTestset(dir), contentSha256(dir)]).then(([testset, sha256]) => ({
              testset,
              sha256,
            }));
            sets.set(dir, set);
          }
          return set;
        };
        const rescored = new Set<string>();
        let failed = false;
        for (const id of targets) {
          const result = await auditOne(db, id, { opts, fallback, load });
          if (result.rescored) rescored.add(result.id);
          if (result.outcome !== "identical" && !result.rescored) failed = true;
          if (result.testsetChanged && !result.rescored) failed = true;
          print(result, opts.json === true);
        }
        if (!opts.json) {
          console.log(
            targets.length === 0
              ? "no scored submission to audit"
              : failed
                ? "audit: differences found (see above)"
                : `audit: ${targets.length} submission(s) checked; every figure is bit-identical${rescored.size > 0 ? " after the re-scores" : ""}`,
          );
        }
        if (rescored.size > 0) await askForTieMarks(db, config, targets, rescored);
        if (failed) process.exitCode = 1;
      });
    });
}

async function auditOne(
  db: Db,
  id: string,
  ctx: { opts: AuditOptions; fallback: BootstrapOptions; load: (dir: string) => Promise<LoadedSet> },
): Promise<AuditResult> {
  const row = await findScoreForAudit(db, id);
  if (!row) throw new UsageError(`no submission ${id} in this database`);
  const base = {
    id,
    compared: null,
    differences: [],
    testsetChanged: false,
    scorerVersion: null,
    rescored: false,
    notes: [] as string[],
  };
  const recorded = row.provenance?.testsetSha256 ?? null;
  if (row.state !== "scored") {
    return {
      ...base,
      outcome: "not_auditable",
      reason: `it is ${row.state}, not scored`,
      testsetSha256: { recorded, current: "–" },
    };
  }
  const dir = await setDir(db, row, ctx.opts);
  const { testset, sha256 } = await ctx.load(dir);
  const testsetChanged = recorded !== null && recorded !== sha256;
  if (testsetChanged) await markTestsetChanged(db, id, sha256);
  const result: AuditResult = {
    ...base,
    outcome: "identical",
    testsetSha256: { recorded, current: sha256 },
    testsetChanged,
  };
  const p = row.provenance;
  if (p && p.scorerVersion !== SCORER_VERSION) {
    result.scorerVersion = { recorded: p.scorerVersion, current: SCORER_VERSION };
  }
  if (!p) result.notes.push("no provenance recorded: scored with the bootstrap given by the options");
  if (row.predictions === null) {
    return { ...result, outcome: "not_auditable", reason: "its predictions were not kept" };
  }
  let predictions;
  try {
    predictions = testset.scorer.parsePredictions(
      row.predictions.csv,
      testset.studies,
      "the stored predictions",
    );
  } catch (err) {
    if (!(err instanceof PredictionsError)) throw err;
    return {
      ...result,
      outcome: "not_auditable",
      reason: `the stored predictions do not fit ${dir}: ${err.message}`,
    };
  }
  const bootstrap = p ? { replicates: p.bootstrapReplicates, seed: Number(p.bootstrapSeed) } : ctx.fallback;
  const onDev = row.phase.data === "development";
  const split = onDev ? null : splitOf(await getCompetitionPolicy(db, row.competitionId));
  const record = scoreRecord(testset, predictions, bootstrap, split);
  // A score without provenance was written before scores were written exactly (packages/db).
  const { compared, differences, writeRounded } = compareFigures(row, record, { legacy: !p });
  if (writeRounded.length > 0) {
    result.notes.push(
      `${writeRounded.length} figure(s) (${writeRounded.slice(0, 3).join(", ")}${writeRounded.length > 3 ? ", …" : ""}) are stored rounded to 16 significant digits, as scores were written before they were written exactly: not a difference of the computation; --rescore stores them exactly`,
    );
  }
  const audited: AuditResult = {
    ...result,
    compared,
    differences,
    outcome: differences.length > 0 ? "differs" : "identical",
  };
  if (ctx.opts.rescore === true && (differences.length > 0 || testsetChanged || writeRounded.length > 0)) {
    audited.rescored = await rescore(db, row, record, { testset, sha256 }, bootstrap);
  }
  return audited;
}

/** The directory of the set the submission was scored on: the competition's own, else the option's. */
async function setDir(db: Db, row: StoredScore, opts: AuditOptions): Promise<string> {
  const c = await findCompetitionSets(db, row.competitionId);
  if (!c) throw new UsageError(`the competition of ${row.id} does not exist`);
  const onDev = row.phase.data === "development";
  const own = c.testsetDir !== null;
  const dir = onDev
    ? own
      ? c.devsetDir
      : (opts.devset ?? null)
    : own
      ? c.testsetDir
      : (opts.testset ?? null);
  if (dir === null) {
    throw new UsageError(
      own
        ? `competition ${c.slug} has no development set to audit ${row.id} with`
        : `competition ${c.slug} names no ${onDev ? "development" : "test"} set of its own: give ${onDev ? "--devset" : "--testset"} DIR (the workers' ${onDev ? "HOLDOUT_DEVSET_DIR" : "HOLDOUT_TESTSET_DIR"})`,
    );
  }
  return dir;
}

async function rescore(
  db: Db,
  row: StoredScore,
  record: ScoreRecord,
  set: LoadedSet,
  bootstrap: BootstrapOptions,
): Promise<boolean> {
  const actor = cliActor();
  return replaceScore(
    db,
    row.id,
    record,
    { worker: actor, detail: `re-scored by ${actor} (audit)` },
    {
      actor,
      worker: actor,
      scorer: set.testset.scorer.name,
      scorerVersion: SCORER_VERSION,
      bootstrap: { replicates: bootstrap.replicates, seed: bootstrap.seed },
      testsetSha256: set.sha256,
    },
  );
}

async function askForTieMarks(
  db: Db,
  config: Parameters<typeof queueTieMarks>[0],
  targets: string[],
  rescored: Set<string>,
) {
  const competitions = new Set<string>();
  for (const id of targets) {
    if (!rescored.has(id)) continue;
    const row = await findScoreForAudit(db, id);
    if (row) competitions.add(row.competitionId);
  }
  for (const competitionId of competitions) {
    const queued = await queueTieMarks(config, competitionId, "scores re-scored by an audit").catch(
      (err: unknown) => {
        console.error(`note: could not queue the tie marks: ${(err as Error).message}`);
        return false;
      },
    );
    if (!queued)
      console.error("note: the tie marks are recomputed at the workers' next refresh (REDIS_URL is not set)");
  }
}

function print(r: AuditResult, json: boolean) {
  if (json) {
    console.log(JSON.stringify(r));
    return;
  }
  const head = `submission ${r.id}:`;
  if (r.outcome === "not_auditable") console.log(`${head} not audited: ${r.reason ?? ""}`);
  else if (r.outcome === "identical") console.log(`${head} bit-identical (${r.compared} figures)`);
  else console.log(`${head} ${r.differences.length} of ${r.compared} figures differ`);
  if (r.testsetChanged) {
    console.log(
      `  test set changed: scored on ${r.testsetSha256.recorded ?? "–"}, now ${r.testsetSha256.current} (marked "scored on a previous version of the test set")`,
    );
  }
  if (r.scorerVersion) {
    console.log(
      `  scorer version: scored with ${r.scorerVersion.recorded}, this code is ${r.scorerVersion.current}`,
    );
  }
  for (const note of r.notes) console.log(`  note: ${note}`);
  if (r.differences.length > 0) {
    const width = Math.max(...r.differences.map((d) => d.figure.length), "figure".length);
    console.log(`  ${"figure".padEnd(width)}  stored  →  recomputed`);
    for (const d of r.differences)
      console.log(`  ${d.figure.padEnd(width)}  ${d.stored}  →  ${d.recomputed}`);
  }
  if (r.rescored)
    console.log("  re-scored: the figures above replaced the stored ones; both are kept in its history");
}
