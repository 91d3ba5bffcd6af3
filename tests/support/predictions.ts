import { randomUUID } from "node:crypto";
import {
  createSubmission,
  getCompetitionPolicy,
  markQueued,
  markScoring,
  recordScore,
  startRun,
  type Db,
} from "@holdout/db";
import { TASKS, type BootstrapOptions, type PerTask } from "@holdout/scorer";
import { ladderStep, scoreRecord, splitOf, type HiddenTestset } from "@holdout/worker";
import { uniqueName } from "./env.ts";

// Predictions made from the labels themselves, for tests that need entries of a chosen quality
// without running a model; such an entry scored as the worker scores it; and a poll for what a
// worker does in its own time.

/** A deterministic stream of numbers in [0, 1). */
export function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Scores that rank positives above negatives, blurred by `noise` (more noise, lower AUC; at 1 or
 * less the ranking stays perfect). `only`: the signal is on those studies alone, chance elsewhere.
 */
export function blurred(
  testset: HiddenTestset,
  noise: number,
  seed: number,
  only?: ReadonlySet<number>,
): PerTask<Float64Array> {
  const next = uniform(seed);
  return Object.fromEntries(
    TASKS.map((task) => [
      task,
      Float64Array.from(testset.truth[task]!, (y, i) => (only && !only.has(i) ? 0 : y) + noise * next()),
    ]),
  ) as PerTask<Float64Array>;
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/**
 * A submission scored as the worker scores it (seeded: no model run), with the competition's split
 * and ladder as they are now. Returns its id.
 */
export async function scoreSeeded(
  stack: { db: Db; competition: { id: string } },
  testset: HiddenTestset,
  teamId: string,
  predictions: PerTask<Float64Array>,
  bootstrap: BootstrapOptions,
): Promise<string> {
  const { db } = stack;
  const id = randomUUID();
  await createSubmission(db, {
    id,
    competitionId: stack.competition.id,
    teamId,
    modelName: uniqueName("seeded"),
    description: null,
    link: null,
    ensemble: false,
    uploadFile: `${id}.tar`,
    uploadSize: 1,
    uploadSha256: "0".repeat(64),
  });
  await markQueued(db, id);
  const { lease } = await startRun(db, id, { worker: "seed", leaseMs: 60_000 });
  if (!lease) throw new Error(`seeded submission ${id} could not be started`);
  await markScoring(db, lease, { digest: "sha256:seed", size: 1 });
  const policy = await getCompetitionPolicy(db, stack.competition.id);
  const split = splitOf(policy);
  const record = scoreRecord(testset, predictions, bootstrap, split);
  const ladder = policy.ladder ? ladderStep(testset, record, bootstrap, split) : undefined;
  await recordScore(db, lease, record, ladder ? { ladder } : {});
  return id;
}
