import { stringify } from "csv-stringify/sync";
import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import type { Eta } from "eta";
import type { Db } from "@holdout/db";
import { LeaderboardSchema } from "../schemas.ts";
import { buildLeaderboard, type CompetitionInfo } from "../services/leaderboard.ts";

export interface LeaderboardRoutesOptions {
  db: Db;
  competition: CompetitionInfo;
  views: Eta;
}

const leaderboardRoutes: FastifyPluginCallbackTypebox<LeaderboardRoutesOptions> = (app, opts, done) => {
  const { db, competition, views } = opts;

  app.get(
    "/api/v1/leaderboard",
    { schema: { summary: "The ranked public leaderboard", response: { 200: LeaderboardSchema } } },
    () => buildLeaderboard(db, competition),
  );

  app.get("/leaderboard.csv", { schema: { summary: "The leaderboard as CSV" } }, async (_request, reply) => {
    const board = await buildLeaderboard(db, competition);
    const csv = stringify(
      board.entries.map((e) => ({
        rank: e.rank,
        date: e.date,
        model: e.model,
        team: e.team,
        institution: e.institution ?? "",
        link: e.link ?? "",
        ensemble: e.ensemble ? "ensemble" : "single model",
        mean_auc: e.meanAuc,
        num_rads_below_curve: e.meanRadsBelowCurve,
        ...Object.fromEntries(
          e.tasks.map((t) => [`auc_${t.task.toLowerCase().replaceAll(" ", "_")}`, t.auc]),
        ),
      })),
      { header: true },
    );
    return reply
      .type("text/csv; charset=utf-8")
      .header("content-disposition", `attachment; filename="${competition.slug}-leaderboard.csv"`)
      .send(csv);
  });

  app.get("/", { schema: { hide: true } }, async (_request, reply) => {
    const board = await buildLeaderboard(db, competition);
    const html = views.render("leaderboard", {
      board,
      date: (iso: string) =>
        new Date(iso).toLocaleDateString("en-US", {
          year: "numeric",
          month: "short",
          day: "numeric",
          timeZone: "UTC",
        }),
    });
    return reply.type("text/html; charset=utf-8").send(html);
  });
  done();
};

export default leaderboardRoutes;
