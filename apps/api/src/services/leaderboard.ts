import { createHash } from "node:crypto";
import {
  getCompetitionPolicy,
  leaderboardFingerprint,
  listBoardEntries,
  listPartBoardEntries,
  type Db,
  type ListedEntry,
} from "@holdout/db";
import { rankEntries } from "@holdout/scorer";
import type { Board, RankedLeaderboard, RankedLeaderboardEntry } from "@holdout/contracts/http";
import { coalesced } from "./coalesce.ts";
import {
  byTaskOrder,
  formatAuc,
  formatInterval,
  formatRads,
  interval,
  partTasks,
  released,
  releaseOf,
  type Release,
} from "./release.ts";

export interface CompetitionInfo {
  id: string;
  slug: string;
  name: string;
  aucFloor: number;
  scorer: "chexpert" | "mean_auc";
  /** The label columns its board shows, stored from the test set's manifest at creation. */
  tasks: readonly string[];
}

function tasksOf(v: unknown) {
  if (Array.isArray(v) && v.every((t) => Array.isArray(t))) {
    return byTaskOrder(
      (v as [string, number, number | null, number | null, number][]).map(
        ([task, auc, lo, hi, radsBelowCurve]) => ({ task, auc, radsBelowCurve, auc95: interval(lo, hi) }),
      ),
    );
  }
  return partTasks(v);
}

/**
 * Ranks at full precision (the official rule: equal scores share a rank), then releases each entry's
 * figures at the competition's precision; the ranking key shown is the released one.
 */
function rankedEntries(rows: ListedEntry[], release: Release): RankedLeaderboardEntry[] {
  const ranked = rankEntries(
    // A scored row always has its means: the worker writes them with the state.
    rows.map((r) => ({ ...r, meanAuc: r.meanAuc ?? 0, meanRadsBelowCurve: r.meanRadsBelowCurve ?? 0 })),
  );
  return ranked.map((r) => {
    const shown = released(
      {
        meanAuc: r.meanAuc,
        meanAuc95: interval(r.meanAucLo, r.meanAucHi),
        meanRadsBelowCurve: r.meanRadsBelowCurve,
        score: r.score,
        tasks: tasksOf(r.tasks),
      },
      release,
    );
    return {
      rank: r.rank,
      submissionId: r.id,
      date: new Date(r.createdAt).toISOString(),
      team: r.teamName,
      institution: r.institution,
      baseline: r.baseline,
      earlierTestset: r.earlierTestset,
      model: r.modelName,
      link: r.link,
      ensemble: r.ensemble,
      meanAuc: shown.meanAuc,
      meanRadsBelowCurve: shown.meanRadsBelowCurve,
      score: shown.score,
      meanAuc95: shown.meanAuc95,
      tiedWithLeader: r.tiedWithLeader,
      display: {
        auc: formatAuc(shown.meanAuc, release),
        rads: formatRads(shown.meanRadsBelowCurve, release),
        auc95: formatInterval(shown.meanAuc95, release),
      },
      tasks: shown.tasks.map((t) => ({
        task: t.task,
        auc: t.auc,
        radsBelowCurve: t.radsBelowCurve,
        auc95: t.auc95,
      })),
    };
  });
}

/**
 * The ranked public leaderboard: the one place ranks are computed, for HTML, JSON and CSV alike.
 * Without a split, on the whole test set. With one: on the public part while open; once closed, the
 * teams' finals on the private part (`entries`) beside the public part's board (`publicEntries`).
 */
export async function buildLeaderboard(db: Db, competition: CompetitionInfo): Promise<RankedLeaderboard> {
  const policy = await getCompetitionPolicy(db, competition.id);
  const release = releaseOf(policy);
  const head = {
    competition: {
      slug: competition.slug,
      name: competition.name,
      aucFloor: competition.aucFloor,
      state: policy.state,
      closedAt: policy.closedAt?.toISOString() ?? null,
    },
    generatedAt: new Date().toISOString(),
    precision: { auc: release.aucDecimals, rads: release.radsDecimals },
  };
  if (!release.split) {
    return {
      ...head,
      board: "full",
      entries: rankedEntries(await listBoardEntries(db, competition), release),
    };
  }
  const publicEntries = rankedEntries(await listPartBoardEntries(db, competition, "public"), release);
  if (!release.closed) return { ...head, board: "public", entries: publicEntries };
  const board: Board = "private";
  const finals = rankedEntries(await listPartBoardEntries(db, competition, "private"), release);
  return { ...head, board, entries: finals, publicEntries };
}

/** Where routes read the leaderboard from. */
export interface LeaderboardSource {
  get(): Promise<RankedLeaderboard>;
  /** The same board serialized once per version, with an ETag for conditional requests. */
  json(): Promise<{ body: Buffer; etag: string }>;
}

/**
 * The leaderboard, rebuilt only when what it shows may have changed. Each read first asks PostgreSQL
 * for a fingerprint of the rows it is built from: the count and the transaction ids (xmin) of the
 * competition's scored submissions, their part scores, the provenance an audit marked (an earlier
 * test set), its teams and the competition itself. Any write to one of those rows (a new score, a
 * re-score, hide, disqualify, a tie mark, an audit's mark, a final choice, a team's details,
 * closing, the released precision) changes its xmin, so the fingerprint changes
 * and the next read rebuilds. Every API process and the workers write through PostgreSQL, so this
 * holds across processes without any messaging.
 *
 * The fingerprint is read before the rows: a write landing in between makes the cached board newer
 * than its fingerprint, which only causes one more rebuild, never a stale answer.
 */
export function cachedLeaderboard(db: Db, competition: CompetitionInfo): LeaderboardSource {
  interface Entry {
    fingerprint: string;
    board: Promise<RankedLeaderboard>;
    json?: Promise<{ body: Buffer; etag: string }>;
  }
  let cached: Entry | null = null;
  // Concurrent readers share one fingerprint query per round (see coalesced): under load PostgreSQL
  // aggregates the board's rows a few times a second instead of once per request.
  const fingerprintNow = coalesced(() => leaderboardFingerprint(db, competition.id));
  const current = async (): Promise<Entry> => {
    const fingerprint = await fingerprintNow();
    if (cached?.fingerprint !== fingerprint) {
      // Concurrent readers of the same fingerprint share one build; a failed build is not kept.
      const board = buildLeaderboard(db, competition);
      const entry: Entry = { fingerprint, board };
      cached = entry;
      void board.catch(() => {
        if (cached === entry) cached = null;
      });
    }
    return cached;
  };
  return {
    async get() {
      return (await current()).board;
    },
    async json() {
      const entry = await current();
      // Serialized once per version: a large board costs its stringify once, not on every request.
      entry.json ??= entry.board.then((board) => {
        // Kept as bytes: a multi-megabyte string would be encoded again on every write.
        const body = Buffer.from(JSON.stringify(board), "utf8");
        return { body, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
      });
      return entry.json;
    },
  };
}
