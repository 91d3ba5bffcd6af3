import path from "node:path";
import { loadPrivateLabels } from "@holdout/testset";
import { alignLabels, scorerFor, type PerTask, type TaskScorer } from "@holdout/scorer";

export interface HiddenTestset {
  /** Host path of `public/`, the only part a model sees (read-only at /workspace). */
  publicDir: string;
  /** The metric the manifest names, bound to its tasks: every parse and score goes through it. */
  scorer: TaskScorer;
  /** Ground-truth study ids, in the order of the arrays below. */
  studies: string[];
  truth: PerTask<Uint8Array, string>;
  /** Benchmark readers; none for a scorer that compares none. */
  readers: { id: string; reads: PerTask<Uint8Array, string> }[];
}

/**
 * Reads a test set's private labels with the scorer its manifest names. Reader rows are put in the
 * ground truth's study order (the files need not agree on order, only on the set of studies). The
 * worker calls it once per set (see testsets.ts), never per job.
 */
export async function loadHiddenTestset(dir: string): Promise<HiddenTestset> {
  const labels = await loadPrivateLabels(dir);
  const scorer = scorerFor(labels.manifest);
  const gt = scorer.parseLabels(labels.groundtruthCsv, "private/groundtruth.csv");
  const readers = scorer.readers
    ? labels.readers.map((r) => ({
        id: r.id,
        reads: alignLabels(scorer.parseLabels(r.csv, `reader ${r.id}`), gt.studies, `reader ${r.id}`),
      }))
    : [];
  return { publicDir: path.join(dir, "public"), scorer, studies: gt.studies, truth: gt.labels, readers };
}

/**
 * A development set's scoring must be the hidden set's (its smoke run checks the predictions the
 * hidden run will be scored on): the same scorer over the same label columns. Throws naming both.
 */
export function checkSameScoring(
  devset: { dir: string; testset: HiddenTestset },
  hidden: { dir: string; testset: HiddenTestset },
): void {
  const describe = (t: HiddenTestset) => `scorer ${t.scorer.name} over ${t.scorer.tasks.join(", ")}`;
  const dev = devset.testset.scorer;
  const test = hidden.testset.scorer;
  const sameTasks =
    dev.tasks.length === test.tasks.length && dev.tasks.every((task) => test.tasks.includes(task));
  if (dev.name !== test.name || !sameTasks) {
    throw new Error(
      `the development set ${devset.dir} (${describe(devset.testset)}) is not scored as the test set ` +
        `${hidden.dir} (${describe(hidden.testset)}): both must name the same scorer and tasks`,
    );
  }
}
