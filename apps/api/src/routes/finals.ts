import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { MAX_FINALS, type Db } from "@holdout/db";
import { ProblemSchema } from "@holdout/contracts/http";
import { currentTeam } from "../plugins/auth.ts";
import { IdParamsSchema } from "../schemas/common.ts";
import { chooseFinal } from "../services/finals.ts";

const FinalsSchema = Type.Object({
  finals: Type.Array(Type.String(), {
    description: `the team's final submissions, at most ${MAX_FINALS}; none chosen: its best public entry at closing`,
  }),
});

/** Final submissions of a competition with a public/private split: ranked on the private part at closing. */
const finalsRoutes: FastifyPluginCallbackTypebox<{ db: Db }> = (app, { db }, done) => {
  for (const [method, selected] of [
    ["PUT", true],
    ["DELETE", false],
  ] as const) {
    app.route({
      method,
      url: "/submissions/:id/final",
      onRequest: app.requireTeam,
      schema: {
        summary: selected
          ? `Choose a submission as one of the team's (at most ${MAX_FINALS}) finals`
          : "Withdraw a submission from the team's finals",
        description:
          "Split competitions only, while open. Closing ranks each team's finals on the private part of the test set; a team that chose none is ranked on its best public entry.",
        params: IdParamsSchema,
        response: { 200: FinalsSchema, "4xx": ProblemSchema },
      },
      handler: async (request) => ({
        finals: await chooseFinal(db, currentTeam(request).id, request.params.id, selected),
      }),
    });
  }
  done();
};

export default finalsRoutes;
