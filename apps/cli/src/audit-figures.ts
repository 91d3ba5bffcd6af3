import type { findScoreForAudit, PartScoreRecord, ScoreRecord, StoredPartFigures } from "@holdout/db";

/** The stored score an audit re-computes (packages/db findScoreForAudit). */
export type StoredScore = NonNullable<Awaited<ReturnType<typeof findScoreForAudit>>>;

/** One figure that is not what the re-computation gives. */
export interface FigureDifference {
  figure: string;
  stored: string;
  recomputed: string;
}

/** What comparing a stored score with its re-computation found. */
export interface FigureComparison {
  /** How many figures were compared (numbers, and each curve as one figure). */
  compared: number;
  differences: FigureDifference[];
  /**
   * For a score recorded before scores were written exactly (it has no provenance): figures that
   * are the re-computed ones rounded to 16 significant digits, as the database client wrote every
   * double then. Not a difference of the computation; a re-score stores them exactly.
   */
  writeRounded: string[];
}

type Value = number | string | null;

/** Numbers as JavaScript prints them (the shortest text that reads back as the same double). */
function shown(v: Value | undefined): string {
  if (v === undefined || v === null) return "–";
  return typeof v === "number" ? (Object.is(v, -0) ? "-0" : String(v)) : v;
}

/**
 * Bit-identical: the same double (Object.is: NaN equals NaN, 0 and -0 differ), or both absent.
 * Curves compare as their JSON text, which is exact for doubles both ways.
 */
function same(a: Value | undefined, b: Value | undefined): boolean {
  return Object.is(a ?? null, b ?? null);
}

type PartTask = PartScoreRecord["tasks"][number];
type Part = Omit<StoredPartFigures, "part">;

/**
 * JSON text with every object's keys sorted: PostgreSQL's jsonb keeps its own key order, so the
 * stored curves come back with their keys reordered (and never with an undefined one).
 */
function canonical(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  return JSON.stringify(v, (_key, value: unknown) =>
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}

/** A double as the database client wrote it before exact writes: 16 significant digits. */
const written = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(16)) : x);

/** The same JSON with every number rounded as `written` does. */
function writtenDeep(v: unknown): unknown {
  if (typeof v === "number") return written(v);
  if (Array.isArray(v)) return v.map(writtenDeep);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, writtenDeep(x)]));
  }
  return v;
}

const partTasks = (p: Part | undefined) => (Array.isArray(p?.tasks) ? (p.tasks as PartTask[]) : []);

/**
 * Every stored figure against the re-computed one: the means, the score and its interval, per task
 * the AUC, its interval, the radiologists below the curve, the ROC and the other plot curves, and
 * with a split each part's figures. A row or a task present on one side only is a difference too.
 */
export function compareFigures(
  stored: StoredScore,
  recomputed: ScoreRecord,
  opts: { legacy: boolean },
): FigureComparison {
  const differences: FigureDifference[] = [];
  const writeRounded: string[] = [];
  let compared = 0;
  const check = (figure: string, a: Value | undefined, b: Value | undefined) => {
    compared += 1;
    if (same(a, b)) return;
    if (opts.legacy && typeof a === "number" && typeof b === "number" && Object.is(a, written(b))) {
      writeRounded.push(figure);
    } else differences.push({ figure, stored: shown(a), recomputed: shown(b) });
  };

  check("meanAuc", stored.meanAuc, recomputed.meanAuc);
  check("meanRadsBelowCurve", stored.meanRadsBelowCurve, recomputed.meanRadsBelowCurve);
  check("score", stored.score, recomputed.score);
  check("meanAuc95.lo", stored.meanAucLo, recomputed.meanAucLo);
  check("meanAuc95.hi", stored.meanAucHi, recomputed.meanAucHi);

  const storedTasks = new Map(stored.results.map((t) => [t.task, t]));
  const tasks = new Set([...recomputed.tasks.map((t) => t.task), ...storedTasks.keys()]);
  for (const task of tasks) {
    const a = storedTasks.get(task);
    const b = recomputed.tasks.find((t) => t.task === task);
    check(`${task}.auc`, a?.auc, b?.auc);
    check(`${task}.auc95.lo`, a?.aucLo, b?.aucLo);
    check(`${task}.auc95.hi`, a?.aucHi, b?.aucHi);
    check(`${task}.radsBelowCurve`, a?.radsBelowCurve, b?.radsBelowCurve);
    // The curves are long: a difference names the curve, not its thousand vertices.
    const curve = (figure: string, x: unknown, y: unknown) => {
      compared += 1;
      if (canonical(x) === canonical(y)) return;
      if (opts.legacy && canonical(x) === canonical(writtenDeep(y))) writeRounded.push(figure);
      else {
        differences.push({
          figure,
          stored: x === undefined || x === null ? "–" : "(stored curve)",
          recomputed: y === undefined || y === null ? "–" : "(another curve)",
        });
      }
    };
    curve(`${task}.roc`, a?.roc, b?.roc);
    curve(`${task}.curves`, a?.curves, b?.curves);
  }

  const storedParts = new Map<string, Part>(stored.parts.map((p) => [p.part, p]));
  const recomputedParts = new Map<string, Part>((recomputed.parts ?? []).map((p) => [p.part, p]));
  for (const part of new Set([...storedParts.keys(), ...recomputedParts.keys()])) {
    const a = storedParts.get(part);
    const b = recomputedParts.get(part);
    check(`${part}.meanAuc`, a?.meanAuc, b?.meanAuc);
    check(`${part}.meanRadsBelowCurve`, a?.meanRadsBelowCurve, b?.meanRadsBelowCurve);
    check(`${part}.score`, a?.score, b?.score);
    check(`${part}.meanAuc95.lo`, a?.meanAucLo, b?.meanAucLo);
    check(`${part}.meanAuc95.hi`, a?.meanAucHi, b?.meanAucHi);
    const names = new Set([...partTasks(a), ...partTasks(b)].map((t) => t.task));
    for (const task of names) {
      const x = partTasks(a).find((t) => t.task === task);
      const y = partTasks(b).find((t) => t.task === task);
      check(`${part}.${task}.auc`, x?.auc, y?.auc);
      check(`${part}.${task}.auc95.lo`, x?.aucLo, y?.aucLo);
      check(`${part}.${task}.auc95.hi`, x?.aucHi, y?.aucHi);
      check(`${part}.${task}.radsBelowCurve`, x?.radsBelowCurve, y?.radsBelowCurve);
    }
  }
  return { compared, differences, writeRounded };
}
