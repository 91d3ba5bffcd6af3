import { stringify } from "csv-stringify/sync";
import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { Type } from "typebox";
import { TASKS } from "@holdout/scorer";
import {
  RankedLeaderboardSchema,
  type CompetitionInfo,
  type LeaderboardSource,
} from "../services/leaderboard.ts";

export interface LeaderboardRoutesOptions {
  board: LeaderboardSource;
  competition: CompetitionInfo;
}

const taskColumn = (prefix: string, task: string) => `${prefix}_${task.toLowerCase().replaceAll(" ", "_")}`;

// Named up front, so an empty board still has its header and every row the same columns. The
// original columns first, in their order; the interval and tie columns are appended.
const CSV_COLUMNS = [
  "rank",
  "date",
  "model",
  "team",
  "institution",
  "link",
  "ensemble",
  "mean_auc",
  "num_rads_below_curve",
  ...TASKS.map((t) => taskColumn("auc", t)),
  "mean_auc_lo",
  "mean_auc_hi",
  "tied_with_leader",
  ...TASKS.flatMap((t) => [taskColumn("auc_lo", t), taskColumn("auc_hi", t)]),
];

/** The public leaderboard as data (JSON, CSV). The HTML page is in web/leaderboard-page.ts. */
const leaderboardRoutes: FastifyPluginCallbackTypebox<LeaderboardRoutesOptions> = (app, opts, done) => {
  const { board, competition } = opts;

  app.get(
    "/api/v1/leaderboard",
    {
      schema: {
        summary: "The ranked public leaderboard",
        description:
          "`meanAuc95` / `tasks[].auc95` are 95% bootstrap confidence intervals; `tiedWithLeader` marks entries a paired bootstrap comparison (5% level) cannot tell from the leader. All three are null until the scorer has computed them.",
        response: { 200: RankedLeaderboardSchema },
      },
    },
    async (request, typedReply) => {
      // The cached serialization, sent as is (the schema above documents its shape for /docs; the
      // typed reply would insist on the object); 304 when the client has this version.
      const reply: FastifyReply = typedReply;
      const { body, etag } = await board.json();
      void reply.header("etag", etag).header("cache-control", "no-cache");
      if (request.headers["if-none-match"] === etag) return reply.code(304).send();
      return reply.type("application/json").send(body);
    },
  );

  const csvResponse = {
    description: "One row per listed entry, with a header row (an attachment)",
    content: { "text/csv": { schema: Type.String({ description: `columns: ${CSV_COLUMNS.join(", ")}` }) } },
  };
  const csvSchema = { summary: "The leaderboard as CSV", response: { 200: csvResponse } };
  app.get("/leaderboard.csv", { schema: csvSchema }, async (_request, reply) => {
    const { entries } = await board.get();
    const csv = stringify(
      entries.map((e) => ({
        rank: e.rank,
        date: e.date,
        model: e.model,
        team: e.team,
        institution: e.institution ?? "",
        link: e.link ?? "",
        ensemble: e.ensemble ? "ensemble" : "single model",
        mean_auc: e.meanAuc,
        num_rads_below_curve: e.meanRadsBelowCurve,
        ...Object.fromEntries(e.tasks.map((t) => [taskColumn("auc", t.task), t.auc])),
        mean_auc_lo: e.meanAuc95?.[0] ?? "",
        mean_auc_hi: e.meanAuc95?.[1] ?? "",
        tied_with_leader: e.tiedWithLeader === null ? "" : String(e.tiedWithLeader),
        ...Object.fromEntries(
          e.tasks.flatMap((t) => [
            [taskColumn("auc_lo", t.task), t.auc95?.[0] ?? ""],
            [taskColumn("auc_hi", t.task), t.auc95?.[1] ?? ""],
          ]),
        ),
      })),
      { header: true, columns: CSV_COLUMNS },
    );
    return reply
      .type("text/csv; charset=utf-8")
      .header("content-disposition", `attachment; filename="${competition.slug}-leaderboard.csv"`)
      .send(csv);
  });
  done();
};

export default leaderboardRoutes;
