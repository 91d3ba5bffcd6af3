import { TASKS } from "@holdout/scorer";
import type { RankedLeaderboard, RankedLeaderboardEntry } from "@holdout/contracts/http";
import { formatAuc, formatInterval } from "../services/release.ts";
import { formatDate, safeHref } from "./format.ts";

// What the leaderboard page shows, computed once per request so the template only prints strings:
// filtering, sorting, which AUCs are the best (bold), and the optional per-task columns.

/** What a competition's board shows: its scorer's task columns, and "Num Rads Below Curve" for CheXpert. */
export interface BoardColumns {
  tasks: readonly string[];
  rads: boolean;
}

export const taskSlug = (task: string) => task.toLowerCase().replaceAll(/[^a-z0-9]+/g, "-");

/** The sort keys of a competition's board: the fixed columns, then one per task. */
export function sortKeysFor(c: BoardColumns): string[] {
  return ["rank", "date", "model", "team", "auc", ...(c.rads ? ["rads"] : []), ...c.tasks.map(taskSlug)];
}
export type SortKey = string;
export type SortDir = "asc" | "desc";

export interface LeaderboardQuery {
  sort: SortKey;
  dir: SortDir;
  q: string;
  tasks: boolean;
}

/** Rank and names read best ascending; scores and dates best descending. */
export function defaultDir(key: SortKey): SortDir {
  return key === "rank" || key === "model" || key === "team" ? "asc" : "desc";
}

export interface Cell {
  text: string;
  best: boolean;
  ci: string | null;
}

export interface LeaderboardRowView {
  id: string;
  rank: number;
  date: string;
  dateIso: string;
  model: string;
  kind: "ensemble" | "single model";
  team: string;
  institution: string | null;
  /** An organizer's baseline: marked, ranked, never the leader. */
  baseline: boolean;
  /** Scored on an earlier version of the test set (an audit found it changed; not re-scored). */
  earlierTestset: boolean;
  link: string | null;
  auc: Cell;
  rads: string;
  tied: boolean;
  tasks: Cell[];
}

export interface ColumnView {
  key: SortKey;
  label: string;
  numeric: boolean;
  /** aria-sort for the header, when this column is the sort key. */
  ariaSort: "ascending" | "descending" | null;
  /** The link that sorts by this column (toggling the direction when it already does). */
  href: string;
}

export interface LeaderboardPageView {
  rows: LeaderboardRowView[];
  columns: ColumnView[];
  taskColumns: ColumnView[];
  total: number;
  query: LeaderboardQuery;
  anyTied: boolean;
  anyBaseline: boolean;
  anyEarlierTestset: boolean;
  toggleTasksHref: string;
  /** Whether the board has the "Num Rads Below Curve" column (CheXpert's readers). */
  rads: boolean;
}

function href(q: LeaderboardQuery, patch: Partial<LeaderboardQuery>): string {
  const next = { ...q, ...patch };
  const params = new URLSearchParams();
  if (next.sort !== "rank") params.set("sort", next.sort);
  if (next.dir !== defaultDir(next.sort)) params.set("dir", next.dir);
  if (next.q) params.set("q", next.q);
  if (next.tasks) params.set("tasks", "1");
  const s = params.toString();
  return s ? `/?${s}` : "/";
}

function column(q: LeaderboardQuery, key: SortKey, label: string, numeric: boolean): ColumnView {
  const active = q.sort === key;
  const dir: SortDir = active ? (q.dir === "asc" ? "desc" : "asc") : defaultDir(key);
  return {
    key,
    label,
    numeric,
    ariaSort: active ? (q.dir === "asc" ? "ascending" : "descending") : null,
    href: href(q, { sort: key, dir }),
  };
}

type Getter = (e: RankedLeaderboardEntry) => number | string;

function getter(key: SortKey, tasks: readonly string[]): Getter {
  const task = tasks.find((t) => taskSlug(t) === key);
  if (task !== undefined) return (e) => e.tasks.find((t) => t.task === task)?.auc ?? -1;
  switch (key) {
    case "rank":
      return (e) => e.rank;
    case "date":
      return (e) => e.date;
    case "model":
      return (e) => e.model.toLowerCase();
    case "team":
      return (e) => e.team.toLowerCase();
    case "auc":
      return (e) => e.meanAuc;
    case "rads":
      return (e) => e.meanRadsBelowCurve;
    default:
      return (e) => e.rank;
  }
}

export function leaderboardPageView(
  board: Pick<RankedLeaderboard, "precision">,
  entries: RankedLeaderboardEntry[],
  query: LeaderboardQuery,
  /** The leaderboard page's own path: `/`, or a competition's `/c/{slug}/`. */
  home = "/",
  layout: BoardColumns = { tasks: TASKS, rads: true },
): LeaderboardPageView {
  const tasks = layout.tasks;
  const taskOrder = new Map<string, number>(tasks.map((t, i) => [t, i]));
  // The sort and filter links are built for `/`; a competition's page keeps them under its path.
  const at = (c: ColumnView): ColumnView => ({ ...c, href: home + c.href.slice(1) });
  const precision = { aucDecimals: board.precision.auc };
  // Best values over the whole board, not the filtered view: bold means "best of the competition".
  let bestAuc = -Infinity;
  const bestTask = tasks.map(() => -Infinity);
  for (const e of entries) {
    if (e.meanAuc > bestAuc) bestAuc = e.meanAuc;
    for (const t of e.tasks) {
      const i = taskOrder.get(t.task);
      if (i !== undefined && t.auc > bestTask[i]!) bestTask[i] = t.auc;
    }
  }
  const needle = query.q.trim().toLowerCase();
  const shown = needle
    ? entries.filter((e) => e.team.toLowerCase().includes(needle) || e.model.toLowerCase().includes(needle))
    : [...entries];
  if (query.sort !== "rank" || query.dir !== "asc") {
    const get = getter(query.sort, tasks);
    const sign = query.dir === "asc" ? 1 : -1;
    // Stable: equal keys keep rank order.
    shown.sort((a, b) => {
      const x = get(a);
      const y = get(b);
      return x < y ? -sign : x > y ? sign : 0;
    });
  }
  // The leader the tie marks compare with: the best entry that is not a baseline.
  const leader = entries.find((e) => !e.baseline)?.submissionId;
  const rows = shown.map((e): LeaderboardRowView => ({
    id: e.submissionId,
    rank: e.rank,
    date: formatDate(e.date),
    dateIso: e.date,
    model: e.model,
    kind: e.ensemble ? "ensemble" : "single model",
    team: e.team,
    institution: e.institution,
    baseline: e.baseline,
    earlierTestset: e.earlierTestset,
    link: safeHref(e.link),
    auc: { text: e.display.auc, best: e.meanAuc === bestAuc, ci: e.display.auc95 },
    rads: e.display.rads,
    tied: e.tiedWithLeader === true && e.submissionId !== leader,
    tasks: query.tasks
      ? tasks.map((task, i) => {
          const t = e.tasks.find((x) => x.task === task);
          return t
            ? {
                text: formatAuc(t.auc, precision),
                best: t.auc === bestTask[i],
                ci: formatInterval(t.auc95, precision),
              }
            : { text: "–", best: false, ci: null };
        })
      : [],
  }));
  return {
    rows,
    total: entries.length,
    query,
    anyTied: rows.some((r) => r.tied),
    anyBaseline: rows.some((r) => r.baseline),
    anyEarlierTestset: rows.some((r) => r.earlierTestset),
    columns: [
      column(query, "rank", "Rank", true),
      column(query, "date", "Date", false),
      column(query, "model", "Model", false),
      column(query, "auc", "AUC", true),
      ...(layout.rads ? [column(query, "rads", "Num Rads Below Curve", true)] : []),
    ].map(at),
    taskColumns: query.tasks ? tasks.map((task) => at(column(query, taskSlug(task), task, true))) : [],
    toggleTasksHref: home + href(query, { tasks: !query.tasks }).slice(1),
    rads: layout.rads,
  };
}
