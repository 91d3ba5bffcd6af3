// A result's curves as the worker stored them (JSON columns whose shape is trusted in nothing),
// read into the one shape the curves endpoint (routes/submission-details.ts) and the plots
// (web/plots.ts) both use.

export interface PlotPoint {
  id: string;
  fpr: number;
  sensitivity: number;
  precision: number | null;
}

export interface PlotData {
  task: string;
  auc: number;
  radsBelowCurve: number;
  /** [fpr, tpr] vertices. */
  roc: [number, number][];
  /** [recall, precision] points; null when the scorer stored no curves for this result. */
  pr: [number, number][] | null;
  readers: PlotPoint[];
  majority: Omit<PlotPoint, "id"> | null;
}

function isPair(v: unknown): v is [number, number] {
  return Array.isArray(v) && v.length >= 2 && typeof v[0] === "number" && typeof v[1] === "number";
}

export function pairsOf(v: unknown): [number, number][] | null {
  return Array.isArray(v) && v.every(isPair) ? v.map((p) => [p[0], p[1]]) : null;
}

function pointOf(v: unknown): Omit<PlotPoint, "id"> | null {
  if (typeof v !== "object" || v === null) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.fpr !== "number" || typeof o.sensitivity !== "number") return null;
  return {
    fpr: o.fpr,
    sensitivity: o.sensitivity,
    precision: typeof o.precision === "number" ? o.precision : null,
  };
}

/** The scorer's TaskCurves fields (pr, readerPoints, majority) from the stored JSON, or nulls. */
export function curvesOf(v: unknown): Pick<PlotData, "pr" | "readers" | "majority"> {
  if (typeof v !== "object" || v === null) return { pr: null, readers: [], majority: null };
  const o = v as Record<string, unknown>;
  const readers = Array.isArray(o.readerPoints)
    ? o.readerPoints.flatMap((r: unknown) => {
        const p = pointOf(r);
        const id = (r as { id?: unknown }).id;
        return p ? [{ ...p, id: typeof id === "string" ? id : "?" }] : [];
      })
    : [];
  return { pr: pairsOf(o.pr), readers, majority: pointOf(o.majority) };
}
