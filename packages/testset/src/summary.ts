/** Labels of one file: study → task → 0/1. */
export type Labels = Map<string, Map<string, number>>;

export interface TestsetSummary {
  studies: number;
  images: number;
  frontal: number;
  lateral: number;
  /** Number of views → number of studies with that many. */
  viewsPerStudy: Record<number, number>;
  prevalence: { task: string; positives: number; negatives: number }[];
  /** Each reader against the ground truth, per task (over the studies both label). */
  readers: { id: string; label: string; task: string; sensitivity: number; specificity: number }[];
}

/** Counts and reader operating points of a test set from its image list and parsed labels. */
export function summarize(
  paths: string[],
  tasks: string[],
  groundTruth: Labels,
  readers: { id: string; label: string; labels: Labels }[],
): TestsetSummary {
  const views = new Map<string, number>();
  for (const p of paths) {
    const study = p.replace(/\/view[^/]*$/, "");
    views.set(study, (views.get(study) ?? 0) + 1);
  }
  const viewsPerStudy: Record<number, number> = {};
  for (const n of views.values()) viewsPerStudy[n] = (viewsPerStudy[n] ?? 0) + 1;
  const lateral = paths.filter((p) => /lateral[^/]*$/i.test(p)).length;

  const prevalence = tasks.map((task) => {
    let positives = 0;
    for (const row of groundTruth.values()) positives += row.get(task) === 1 ? 1 : 0;
    return { task, positives, negatives: groundTruth.size - positives };
  });
  const points = readers.flatMap((r) =>
    tasks.map((task) => {
      let tp = 0;
      let fn = 0;
      let tn = 0;
      let fp = 0;
      for (const [study, row] of groundTruth) {
        const call = r.labels.get(study)?.get(task);
        if (call === undefined) continue;
        if (row.get(task) === 1) {
          if (call === 1) tp++;
          else fn++;
        } else if (call === 1) fp++;
        else tn++;
      }
      return {
        id: r.id,
        label: r.label,
        task,
        sensitivity: tp + fn > 0 ? tp / (tp + fn) : Number.NaN,
        specificity: tn + fp > 0 ? tn / (tn + fp) : Number.NaN,
      };
    }),
  );
  return {
    studies: views.size,
    images: paths.length,
    frontal: paths.length - lateral,
    lateral,
    viewsPerStudy,
    prevalence,
    readers: points,
  };
}

const pad = (s: string, n: number): string => s.padEnd(n);
const fixed = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : " -- ");

/** The summary as a plain-text table for a terminal. */
export function formatSummary(s: TestsetSummary): string {
  const views = Object.entries(s.viewsPerStudy)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([n, count]) => `${n} view${n === "1" ? "" : "s"}: ${count}`)
    .join(", ");
  const lines = [
    `studies: ${s.studies}   images: ${s.images} (${s.frontal} frontal, ${s.lateral} lateral)`,
    `views per study: ${views || "none"}`,
  ];
  const readers = [...new Map(s.readers.map((r) => [r.id, r.label])).entries()];
  const width = Math.max(16, ...s.prevalence.map((p) => p.task.length)) + 2;
  lines.push(
    "",
    (
      pad("task", width) +
      pad("positives", 11) +
      pad("prevalence", 12) +
      readers.map(([, label]) => pad(`${label} sens/spec`, 26)).join("")
    ).trimEnd(),
  );
  for (const p of s.prevalence) {
    const total = p.positives + p.negatives;
    const share = total > 0 ? `${((100 * p.positives) / total).toFixed(1)}%` : "--";
    const cells = readers.map(([id]) => {
      const r = s.readers.find((x) => x.id === id && x.task === p.task);
      return pad(r ? `${fixed(r.sensitivity)} / ${fixed(r.specificity)}` : "--", 26);
    });
    lines.push(
      (pad(p.task, width) + pad(String(p.positives), 11) + pad(share, 12) + cells.join("")).trimEnd(),
    );
  }
  return `${lines.join("\n")}\n`;
}
