/** Leaderboard ordering and display, as the official CheXpert leaderboard does it. */
import { ScorerInputError } from "./errors.ts";

/** The ranking key: mean AUC, with the mean number of radiologists below the curve as a tie-breaker. */
export function combinedScore(meanAuc: number, meanRadsBelowCurve: number): number {
  return meanAuc + 0.001 * meanRadsBelowCurve;
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
