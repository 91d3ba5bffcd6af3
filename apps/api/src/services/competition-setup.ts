import { isAbsolute } from "node:path";
import { parsePhaseLines, PhaseLineError } from "@holdout/contracts";
import {
  CompetitionClosedForPlanError,
  CompetitionSlugTakenError,
  CompetitionSpecError,
  createCompetition,
  PhaseSpecError,
  replacePhasePlan,
  SCORERS,
  type Db,
  type Phase,
} from "@holdout/db";
import { isScorerName, SCORER_NAMES } from "@holdout/scorer";
import { checkCompetitionSets, CompetitionSetsError } from "@holdout/testset";

/** A new competition as the organizer page's form sends it. */
export interface CompetitionForm {
  slug: string;
  name: string;
  testsetDir: string;
  devsetDir: string;
  scorer: string;
  /** One phase per line, as `holdout competition create --phase` takes them. */
  phases: string;
  /** The data-use terms (Markdown); empty: the server's standard text. */
  terms?: string;
}

export type CompetitionFormResult =
  { ok: true; slug: string } | { ok: false; errors: Record<string, string> };

/**
 * Creates a competition from the organizer page's form with the command line's checks
 * (`holdout competition create`): the sets validated and hashed, the scorer the test set's
 * manifest names, the phases read line by line and then checked together. A refusal names the
 * form field it is about; nothing is written unless everything passes.
 */
export async function createCompetitionFromForm(
  db: Db,
  actor: string,
  form: CompetitionForm,
  now = new Date(),
): Promise<CompetitionFormResult> {
  const refuse = (field: keyof CompetitionForm, message: string) =>
    ({ ok: false, errors: { [field]: message } }) as const;
  // The directories are read here and by the workers: a relative path would mean nothing there.
  if (!isAbsolute(form.testsetDir))
    return refuse("testsetDir", "give the test set's absolute path on the server");
  if (form.devsetDir && !isAbsolute(form.devsetDir)) {
    return refuse("devsetDir", "give the development set's absolute path on the server, or leave it empty");
  }
  const scorer = form.scorer || undefined;
  if (scorer !== undefined && !isScorerName(scorer)) {
    return refuse("scorer", `must be one of ${SCORER_NAMES.join(", ")}`);
  }
  try {
    const phases = parsePhaseLines(form.phases.split(/\r?\n/), now);
    if (phases.length === 0) return refuse("phases", "give at least one phase");
    const sets = await checkCompetitionSets({
      testsetDir: form.testsetDir,
      devsetDir: form.devsetDir || null,
      ...(scorer === undefined ? {} : { scorer }),
    });
    const created = await createCompetition(
      db,
      { actor },
      {
        slug: form.slug.trim(),
        name: form.name,
        testsetDir: form.testsetDir,
        testsetSha256: sets.testsetSha256,
        devsetDir: form.devsetDir || null,
        devsetSha256: sets.devsetSha256,
        scorer: SCORERS[sets.scorer],
        tasks: sets.tasks,
        terms: form.terms?.trim() ? form.terms.replace(/\r\n/g, "\n") : null,
        phases,
      },
    );
    return { ok: true, slug: created.slug };
  } catch (err) {
    if (err instanceof PhaseLineError || err instanceof PhaseSpecError) return refuse("phases", err.message);
    if (err instanceof CompetitionSlugTakenError) return refuse("slug", err.message);
    if (err instanceof CompetitionSetsError) {
      const field = err.field === "testset" ? "testsetDir" : err.field === "devset" ? "devsetDir" : "scorer";
      return refuse(field, err.message);
    }
    if (err instanceof CompetitionSpecError) {
      const field =
        (["slug", "name", "testsetDir", "devsetDir"] as const).find((f) => err.field === f) ?? "slug";
      return refuse(field, err.message);
    }
    throw err;
  }
}

export type PhasePlanResult =
  { ok: true; phases: Phase[]; changes: string[] } | { ok: false; closed: boolean; message: string };

/**
 * Replaces a competition's plan of phases from lines as `holdout competition phases SLUG --phase`
 * takes them (every phase, started ones included, in order). A refusal names the line or the
 * phase and what is wrong; nothing changes then.
 */
export async function replacePhasesFromLines(
  db: Db,
  actor: string,
  competitionId: string,
  lines: readonly string[],
  now = new Date(),
): Promise<PhasePlanResult> {
  try {
    const plan = parsePhaseLines(lines, now);
    if (plan.length === 0) return { ok: false, closed: false, message: "phases: give at least one phase" };
    const changed = await replacePhasePlan(db, { actor }, competitionId, plan, now);
    return { ok: true, ...changed };
  } catch (err) {
    if (err instanceof PhaseLineError || err instanceof PhaseSpecError) {
      return { ok: false, closed: false, message: `phases: ${err.message}` };
    }
    if (err instanceof CompetitionClosedForPlanError)
      return { ok: false, closed: true, message: err.message };
    throw err;
  }
}
