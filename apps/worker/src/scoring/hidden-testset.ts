import path from "node:path";
import { loadPrivateLabels } from "@holdout/testset";
import { alignLabels, parseLabelsCsv, type PerTask } from "@holdout/scorer";

export interface HiddenTestset {
  /** Host path of `public/`, the only part a model sees (read-only at /workspace). */
  publicDir: string;
  /** Ground-truth study ids, in the order of the arrays below. */
  studies: string[];
  truth: PerTask<Uint8Array>;
  readers: { id: string; reads: PerTask<Uint8Array> }[];
}

/**
 * Reads the private labels once, at worker start: a broken test set stops the worker before it
 * takes a job, instead of failing every submission. Reader rows are put in the ground truth's
 * study order (the files need not agree on order, only on the set of studies).
 */
export async function loadHiddenTestset(dir: string): Promise<HiddenTestset> {
  const labels = await loadPrivateLabels(dir);
  const gt = parseLabelsCsv(labels.groundtruthCsv, "private/groundtruth.csv");
  const readers = labels.readers.map((r) => ({
    id: r.id,
    reads: alignLabels(parseLabelsCsv(r.csv, `reader ${r.id}`), gt.studies, `reader ${r.id}`),
  }));
  return { publicDir: path.join(dir, "public"), studies: gt.studies, truth: gt.labels, readers };
}

/**
 * The test set as this worker currently holds it. Loaded at start; a re-score reloads it from disk,
 * so a corrected label file takes effect without restarting the worker (for later runs too).
 */
export class TestsetSource {
  constructor(
    readonly dir: string,
    private current: HiddenTestset,
  ) {}

  get(): HiddenTestset {
    return this.current;
  }

  async reload(): Promise<HiddenTestset> {
    this.current = await loadHiddenTestset(this.dir);
    return this.current;
  }
}
