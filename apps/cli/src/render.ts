import type { SubmissionView } from "./api-client.ts";

/** Left-aligned columns; numbers right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = header.map(
    (_, i) => rows.length > 0 && rows.every((r) => /^[-\d.[\], ]*$/.test(r[i] ?? "")),
  );
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)].join("\n");
}

const num = (v: number | null | undefined, digits: number) =>
  v === null || v === undefined ? "" : v.toFixed(digits);
const ci = (interval: [number, number] | null | undefined, digits: number) =>
  interval ? `[${interval[0].toFixed(digits)}, ${interval[1].toFixed(digits)}]` : "";

// The server rounds every score to the competition's released precision; printed with exactly
// those digits (older servers did not say: the official 3 and 1).
const DEFAULT_PRECISION = { auc: 3, rads: 1 };

/** The scores of a scored submission: one row per task, then the mean (and the private part's, once published). */
export function scoresTable(s: SubmissionView): string {
  const p = s.precision ?? DEFAULT_PRECISION;
  const rows = s.tasks.map((t) => [t.task, num(t.auc, p.auc), ci(t.auc95, p.auc), String(t.radsBelowCurve)]);
  rows.push(["Mean", num(s.meanAuc, p.auc), ci(s.meanAuc95, p.auc), num(s.meanRadsBelowCurve, p.rads)]);
  if (s.privatePart) {
    const q = s.privatePart;
    rows.push([
      "Mean, private part",
      num(q.meanAuc, p.auc),
      ci(q.meanAuc95, p.auc),
      num(q.meanRadsBelowCurve, p.rads),
    ]);
  }
  return table(["Task", "AUC", "95% CI", "Rads below curve"], rows);
}

/** What a team can do about each failure category. */
export function failureAdvice(category: string, failedPhase?: string | null): string {
  const smoke =
    failedPhase === "smoke"
      ? " It failed in the smoke run on development studies, so it is not charged; its full log: `holdout status ID --log smoke`."
      : "";
  const advice: Record<string, string> = {
    invalid_upload:
      "The upload was not usable. Send the output of `docker save IMAGE` (or a zip/tar.gz bundle with --bundle).",
    image_rejected:
      "The image was refused (architecture, size, or its configuration). Build it for linux/amd64 without VOLUME instructions and re-submit.",
    timeout:
      "The model ran past the time limit. Make it faster (batch the images, lighter model) and test it locally on the development set.",
    out_of_memory:
      "The model ran out of memory. Lower its batch size or model size so it fits the competition's memory limit.",
    nonzero_exit:
      "The model exited with an error. Read its log (`holdout status ID --log smoke`) and run the image locally with the development set.",
    no_output:
      "The model wrote no predictions. It must write a CSV to the path given as its second argument ($HOLDOUT_OUTPUT).",
    invalid_output:
      "The predictions were not valid: header Study + the five tasks, one row per study, finite numbers. Check the message above.",
    infrastructure:
      "A server-side fault, not yours; it is not charged to your quota. Submit again later, or tell the organizers.",
  };
  return (advice[category] ?? "See the message above.") + smoke;
}
