/** Leaderboard ordering and display, as the official CheXpert leaderboard does it. */
import { ScorerInputError } from "./errors.ts";

/** The ranking key: mean AUC, with the mean number of radiologists below the curve as a tie-breaker. */
export function combinedScore(meanAuc: number, meanRadsBelowCurve: number): number {
  return meanAuc + 0.001 * meanRadsBelowCurve;
}

/** `x` to `decimals` places (the decimal string's rounding, so the figure prints as it is stored). */
export function roundTo(x: number, decimals: number): number {
  const r = Number(x.toFixed(decimals));
  return Object.is(r, -0) ? 0 : r;
}

/** How many decimals of a hidden-set result a team or the public may read. */
export interface ReleasedPrecision {
  aucDecimals: number;
  radsDecimals: number;
}

/**
 * The board's three figures as teams and the public read them: the mean AUC and the radiologists'
 * mean at the released precision, and the ranking key recomputed from those two (the stored key
 * carries the AUC at full precision in its last digits). The API's views and the workers'
 * notifications both release through this.
 */
export function releasedFigures(
  meanAuc: number,
  meanRadsBelowCurve: number,
  p: ReleasedPrecision,
): { meanAuc: number; meanRadsBelowCurve: number; score: number } {
  const auc = roundTo(meanAuc, p.aucDecimals);
  const rads = roundTo(meanRadsBelowCurve, p.radsDecimals);
  return {
    meanAuc: auc,
    meanRadsBelowCurve: rads,
    score: roundTo(combinedScore(auc, rads), Math.max(p.aucDecimals, 3 + p.radsDecimals)),
  };
}

export type RankedEntry<T> = T & { score: number; rank: number };

/**
 * Sorts entries by score descending with dense ranking: entries with exactly equal scores share a rank
 * and the next score gets the next rank (1, 1, 2). Ties keep their input order, so callers choose the
 * order inside a tie (e.g. earliest submission first). Throws on a non-finite mean.
 */
export function rankEntries<T extends { meanAuc: number; meanRadsBelowCurve: number }>(
  entries: readonly T[],
): RankedEntry<T>[] {
  const scored = entries.map((entry) => {
    if (!Number.isFinite(entry.meanAuc) || !Number.isFinite(entry.meanRadsBelowCurve)) {
      throw new ScorerInputError(
        `cannot rank an entry with meanAuc ${entry.meanAuc} and meanRadsBelowCurve ${entry.meanRadsBelowCurve}`,
      );
    }
    return { ...entry, score: combinedScore(entry.meanAuc, entry.meanRadsBelowCurve), rank: 0 };
  });
  scored.sort((a, b) => b.score - a.score); // Array.prototype.sort is stable
  let rank = 0;
  let previous = Number.NaN;
  for (const entry of scored) {
    if (entry.score !== previous) {
      rank++;
      previous = entry.score;
    }
    entry.rank = rank;
  }
  return scored;
}

/** An AUC as displayed on the leaderboard: 3 significant digits ("0.927", "1.00"). */
export function formatAuc(x: number): string {
  return x.toPrecision(3);
}

/** A mean number of radiologists below the curve as displayed: 2 significant digits ("2.6", "0.0"). */
export function formatRads(x: number): string {
  return x.toPrecision(2);
}
