import { randomUUID } from "node:crypto";
import type { NewCompetition, NewSubmission, PhaseSpec } from "../src/index.ts";

// What packages/db's integration tests share: the database, unique names, and the smallest valid
// competition, phase and submission, each with what a test changes given as overrides.

export const DATABASE_URL =
  process.env.HOLDOUT_TEST_DATABASE_URL ?? "postgresql://holdout:holdout@127.0.0.1:5432/holdout_test";
export const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
export const HOUR = 3600_000;
export const hoursFromNow = (h: number) => new Date(Date.now() + h * HOUR);
/** The actor the audit log names for a command run on the server. */
export const CLI = { actor: "cli:test@host" };

/** A hidden-set phase, released feedback, ranked: what a test does not change. */
export const phase = (
  p: Partial<PhaseSpec> & Pick<PhaseSpec, "name" | "startsAt" | "endsAt">,
): PhaseSpec => ({
  data: "hidden",
  feedback: "released",
  ranked: true,
  ...p,
});

/** A competition of `phases` under a unique slug, with test and development sets named. */
export function competitionSpec(
  phases: NewCompetition["phases"],
  extra: Partial<NewCompetition> = {},
): NewCompetition {
  return {
    slug: unique("comp"),
    name: "Pathology",
    testsetDir: "/srv/holdout/testset",
    testsetSha256: "c".repeat(64),
    devsetDir: "/srv/holdout/devset",
    devsetSha256: "d".repeat(64),
    phases,
    ...extra,
  };
}

/** A submission's row as an upload records it, of a 1-byte file nobody reads. */
export function newSubmission(
  s: Pick<NewSubmission, "competitionId" | "teamId"> & Partial<NewSubmission>,
): NewSubmission {
  const id = s.id ?? randomUUID();
  return {
    id,
    modelName: "m",
    description: null,
    link: null,
    ensemble: false,
    uploadFile: null,
    uploadSize: 1,
    uploadSha256: "0".repeat(64),
    ...s,
  };
}
