import { createHash } from "node:crypto";
import type { PerTask } from "@holdout/scorer";
import type { HiddenTestset } from "./hidden-testset.ts";

/** The competition's public/private split as organizers set it (the seed is drawn by the API). */
export interface SplitSpec {
  fraction: number;
  seed: number;
}

/** Study indices (into the test set's arrays) of each part, ascending. */
export interface SplitParts {
  public: number[];
  private: number[];
}

/**
 * Which studies are public: the round(fraction × n) studies with the smallest SHA-256 of
 * `<seed>:<study id>`. It depends on the study ids and the seed only, never on the files' row order,
 * so a label correction (re-score) keeps every study in its part; and without the seed, which only
 * organizers see, nobody can tell which part a study is in.
 */
export function splitStudies(studies: readonly string[], spec: SplitSpec): SplitParts {
  const keyed = studies.map((study, index) => ({
    index,
    key: createHash("sha256").update(`${spec.seed}:${study}`).digest("hex"),
  }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.index - b.index));
  const n = Math.min(studies.length - 1, Math.max(1, Math.round(spec.fraction * studies.length)));
  const ascending = (xs: { index: number }[]) => xs.map((x) => x.index).sort((a, b) => a - b);
  return { public: ascending(keyed.slice(0, n)), private: ascending(keyed.slice(n)) };
}

function pick<T extends Uint8Array | Float64Array>(values: T, indices: readonly number[]): T {
  const out = new (values.constructor as new (n: number) => T)(indices.length);
  indices.forEach((from, to) => (out[to] = values[from]!));
  return out;
}

/** Each task's values at the given study indices; `tasks`: the test set's scorer's. */
export function pickTasks<T extends Uint8Array | Float64Array, K extends string>(
  values: PerTask<T, K>,
  indices: readonly number[],
  tasks: readonly K[],
): PerTask<T, K> {
  return Object.fromEntries(tasks.map((task) => [task, pick(values[task], indices)])) as PerTask<T, K>;
}

/** The test set restricted to some of its studies (labels, readers and ids alike). */
export function subsetTestset(testset: HiddenTestset, indices: readonly number[]): HiddenTestset {
  return {
    publicDir: testset.publicDir,
    scorer: testset.scorer,
    studies: indices.map((i) => testset.studies[i]!),
    truth: pickTasks(testset.truth, indices, testset.scorer.tasks),
    readers: testset.readers.map((r) => ({
      id: r.id,
      reads: pickTasks(r.reads, indices, testset.scorer.tasks),
    })),
  };
}

const cache = new WeakMap<HiddenTestset, Map<string, SplitParts>>();

/** splitStudies for a loaded test set, computed once per test set and split. */
export function partsOf(testset: HiddenTestset, spec: SplitSpec): SplitParts {
  let bySpec = cache.get(testset);
  if (!bySpec) {
    bySpec = new Map();
    cache.set(testset, bySpec);
  }
  const key = `${spec.fraction}:${spec.seed}`;
  let parts = bySpec.get(key);
  if (!parts) {
    parts = splitStudies(testset.studies, spec);
    bySpec.set(key, parts);
  }
  return parts;
}
