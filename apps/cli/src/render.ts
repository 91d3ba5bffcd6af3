import { explainFailure, isFailureCategory } from "@holdout/contracts";
import type { SubmissionDetail } from "@holdout/contracts/http";

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
export function scoresTable(s: SubmissionDetail): string {
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

/**
 * What a team can do about a failure: the category's explanation (the same words as the web page's),
 * and for a smoke-run failure where its log is.
 */
export function failureAdvice(id: string, category: string, failedPhase?: string | null): string {
  const smoke =
    failedPhase === "smoke"
      ? ` It failed in the smoke run on development studies, so it is not charged; its full log: \`holdout status ${id} --log smoke\`.`
      : "";
  // A category this CLI does not know yet (a newer server): the message says what happened.
  const next = isFailureCategory(category) ? explainFailure(category).next : "See the message above.";
  return next + smoke;
}
