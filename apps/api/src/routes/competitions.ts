import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { CompetitionListSchema } from "@holdout/contracts/http";
import type { Db } from "@holdout/db";
import { competitionSummaries } from "../services/competitions.ts";

/** `GET /api/v1/competitions`: every competition on this server, for anyone. */
const competitionListRoutes: FastifyPluginCallbackTypebox<{ db: Db }> = (app, { db }, done) => {
  app.get(
    "/competitions",
    {
      schema: {
        summary: "The competitions on this server",
        description:
          "Each with its scorer, where it stands and its current and next phase. A competition's own API is under `/api/v1/competitions/{slug}` (leaderboard, teams, submissions, uploads: the same routes as the top-level ones, which serve the default competition), its pages under `/c/{slug}/`.",
        response: { 200: CompetitionListSchema },
      },
    },
    async () => ({ competitions: await competitionSummaries(db) }),
  );
  done();
};

export default competitionListRoutes;
