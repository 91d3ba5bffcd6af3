import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import {
  CompetitionClosedError,
  FinalSelectionError,
  MAX_FINALS,
  setSelectedFinal,
  type Db,
} from "@holdout/db";
import { ProblemSchema } from "@holdout/contracts/http";
import { Errors } from "../errors.ts";
import { currentTeam } from "../plugins/auth.ts";
import { IdParamsSchema, UUID } from "../schemas/common.ts";
import { competitionClosed } from "../services/release.ts";

/**
 * A team's choice of final submission, as the API and the team page make it: the problem for each
 * refusal, and 404 for anything that is not the team's own.
 */
export async function chooseFinal(
  db: Db,
  request: FastifyRequest,
  id: string,
  selected: boolean,
): Promise<string[]> {
  const team = currentTeam(request);
  if (!UUID.test(id)) throw new Errors.NotFound(`no submission ${id}`);
  try {
    return await setSelectedFinal(db, team.id, id, selected);
  } catch (err) {
    if (err instanceof FinalSelectionError) throw new Errors.FinalSelection(err.message);
    if (err instanceof CompetitionClosedError) throw competitionClosed();
    // findFirstOrThrow: not this team's submission.
    if ((err as { code?: string }).code === "P2025") throw new Errors.NotFound(`no submission ${id}`);
    throw err;
  }
}

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
      url: "/api/v1/submissions/:id/final",
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
      handler: async (request) => ({ finals: await chooseFinal(db, request, request.params.id, selected) }),
    });
  }
  done();
};

export default finalsRoutes;
