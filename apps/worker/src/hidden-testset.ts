import path from "node:path";
import { loadPrivateLabels } from "@holdout/testset";
import { parseLabelsCsv, TASKS, type Task } from "@holdout/scorer";

export interface HiddenTestset {
  /** Host path of `public/`, the only part a model sees (read-only at /workspace). */
  publicDir: string;
  /** Ground-truth study ids, in the order of the arrays below. */
  studies: string[];
  truth: Record<Task, Uint8Array>;
  readers: { id: string; reads: Record<Task, Uint8Array> }[];
}

/**
 * Reads the private labels once, at worker start: a broken test set stops the worker before it
 * takes a job, instead of failing every submission. Reader rows are re-ordered to the ground
 * truth's study order (the files need not agree on order, only on the set of studies).
 */
export async function loadHiddenTestset(dir: string): Promise<HiddenTestset> {
  const labels = await loadPrivateLabels(dir);
  const gt = parseLabelsCsv(labels.groundtruthCsv, "private/groundtruth.csv");
  const index = new Map(gt.studies.map((s, i) => [s, i]));
  const readers = labels.readers.map((r) => {
    const parsed = parseLabelsCsv(r.csv, `reader ${r.id}`);
    if (parsed.studies.length !== gt.studies.length) {
      throw new Error(`reader ${r.id} has ${parsed.studies.length} studies; the ground truth has ${gt.studies.length}`);
    }
    const reads = Object.fromEntries(TASKS.map((t) => [t, new Uint8Array(gt.studies.length)])) as Record<Task, Uint8Array>;
    parsed.studies.forEach((study, row) => {
      const i = index.get(study);
      if (i === undefined) throw new Error(`reader ${r.id} has study ${study}, which the ground truth lacks`);
      for (const t of TASKS) reads[t][i] = parsed.labels[t][row] ?? 0;
    });
    return { id: r.id, reads };
  });
  return { publicDir: path.join(dir, "public"), studies: gt.studies, truth: gt.labels, readers };
}
