import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { RankedLeaderboard } from "@holdout/contracts/http";
import type { CompetitionSummary } from "@holdout/contracts/http";
import type { LeaderboardSource } from "../services/leaderboard.ts";
import {
  defaultDir,
  leaderboardPageView,
  sortKeysFor,
  taskSlug,
  type BoardColumns,
  type LeaderboardPageView,
  type LeaderboardQuery,
  type SortKey,
} from "./leaderboard-view.ts";
import { renderPage, type WebContext } from "./render.ts";

function sortLabels(c: BoardColumns): [SortKey, string][] {
  return [
    ["rank", "Rank"],
    ["date", "Date"],
    ["model", "Model name"],
    ["team", "Team"],
    ["auc", "AUC"],
    ...(c.rads ? [["rads", "Num Rads Below Curve"] as [SortKey, string]] : []),
    ...c.tasks.map((task): [SortKey, string] => [taskSlug(task), `${task} AUC`]),
  ];
}

/** The page's query, its sort keys those of this competition's board (any other is refused, 400). */
const leaderboardQuerySchema = (c: BoardColumns) =>
  Type.Object({
    sort: Type.Optional(Type.Union(sortKeysFor(c).map((k) => Type.Literal(k)))),
    dir: Type.Optional(Type.Union([Type.Literal("asc"), Type.Literal("desc")])),
    q: Type.Optional(Type.String({ maxLength: 100 })),
    tasks: Type.Optional(Type.Union([Type.Literal("1"), Type.Literal("0"), Type.Literal("")])),
  });

/** The public leaderboard page: server-rendered, sortable and filterable with plain links and a GET form. */
const leaderboardPage: FastifyPluginCallbackTypebox<{
  board: LeaderboardSource;
  web: WebContext;
  /** The competitions on this server, listed on the home page (the default competition's board). */
  competitions?: () => Promise<CompetitionSummary[]>;
}> = (app, { board: source, web, competitions }, done) => {
  // The columns of this competition's scorer: its test set's tasks; readers only with CheXpert.
  const layout: BoardColumns = { tasks: web.competition.tasks, rads: web.competition.scorer === "chexpert" };
  const LeaderboardQuerySchema = leaderboardQuerySchema(layout);
  const SORT_LABELS = sortLabels(layout);
  // The rendered tables, per leaderboard version (the source hands out the same object until the
  // data changes) and query. Most visits ask for the default view, whose 1,000-row table is the
  // page's main cost; odd queries (any filter text) are bounded so the cache cannot grow unchecked.
  type Table = { heading: string | null; note: string | null; view: LeaderboardPageView; html: string };
  const tables = new WeakMap<RankedLeaderboard, Map<string, Table[]>>();
  const TABLES_PER_VERSION = 32;

  /** The boards a page shows: one; or, for a closed split competition, the final board then the public one. */
  function boardsOf(board: RankedLeaderboard) {
    if (board.publicEntries === undefined) {
      const note =
        board.board === "public"
          ? "Ranked on the public part of the hidden test set; the final ranking, on the rest, is published when the competition closes."
          : null;
      return [{ heading: null, note, entries: board.entries }];
    }
    return [
      {
        heading: "Final ranking",
        note: "Each team's final submissions (at most two, chosen by the team; by default its best public entry), ranked on the private part of the hidden test set.",
        entries: board.entries,
      },
      {
        heading: "Public leaderboard",
        note: "Every entry on the public part of the hidden test set, as ranked while the competition was open.",
        entries: board.publicEntries,
      },
    ];
  }

  app.get("/", { schema: { hide: true, querystring: LeaderboardQuerySchema } }, async (request, reply) => {
    const board = await source.get();
    const sort = request.query.sort ?? "rank";
    const query: LeaderboardQuery = {
      sort,
      dir: request.query.dir ?? defaultDir(sort),
      q: request.query.q?.trim() ?? "",
      tasks: request.query.tasks === "1",
    };
    let versions = tables.get(board);
    if (!versions) {
      versions = new Map<string, Table[]>();
      tables.set(board, versions);
    }
    const key = JSON.stringify(query);
    let rendered = versions.get(key);
    if (!rendered) {
      rendered = boardsOf(board).map((b, i) => {
        const view = leaderboardPageView(board, b.entries, query, `${web.base.pages}/`, layout);
        const html = web.views.render("leaderboard-table", {
          view,
          tableId: i === 0 ? "leaderboard" : `leaderboard-${i}`,
          base: web.base,
        });
        return { heading: b.heading, note: b.note, view, html };
      });
      if (versions.size < TABLES_PER_VERSION) versions.set(key, rendered);
    }
    return renderPage(web, request, reply, "leaderboard", {
      title: `${web.competition.name} leaderboard`,
      view: rendered[0]!.view,
      boards: rendered,
      closedAt: board.competition.closedAt,
      sortOptions: SORT_LABELS,
      // Only the home page lists the others, and only once there are others.
      competitions:
        (await competitions?.())?.filter((c) => c.slug !== web.competition.slug && c.status !== "closed") ??
        [],
    });
  });
  done();
};

export default leaderboardPage;
