import { Type, type Static } from "typebox";

export const PhaseSummarySchema = Type.Object({
  name: Type.String(),
  data: Type.Union([Type.Literal("development"), Type.Literal("hidden"), Type.Literal("hidden_public")], {
    description: "what it runs on: the development set, the hidden test set, or the hidden set's public part",
  }),
  feedback: Type.Union([Type.Literal("full"), Type.Literal("released")], {
    description: "full detail (development set only) or the released precision",
  }),
  ranked: Type.Boolean(),
  startsAt: Type.String({ format: "date-time" }),
  endsAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()], {
    description: "null: until the competition is closed",
  }),
});

export const CompetitionSummarySchema = Type.Object({
  slug: Type.String(),
  name: Type.String(),
  scorer: Type.Union([Type.Literal("chexpert"), Type.Literal("mean-auc")]),
  status: Type.Union(
    [
      Type.Literal("upcoming"),
      Type.Literal("open"),
      Type.Literal("between"),
      Type.Literal("ended"),
      Type.Literal("closed"),
    ],
    {
      description:
        "upcoming (no phase yet), open (a phase takes uploads), between phases, ended (its last phase is over), closed",
    },
  ),
  currentPhase: Type.Union([PhaseSummarySchema, Type.Null()]),
  nextPhase: Type.Union([PhaseSummarySchema, Type.Null()]),
  api: Type.String({ description: "its API scope, e.g. /api/v1/competitions/{slug}" }),
  pages: Type.String({ description: "its pages, e.g. /c/{slug}/" }),
});
export type CompetitionSummary = Static<typeof CompetitionSummarySchema>;

export const CompetitionListSchema = Type.Object({ competitions: Type.Array(CompetitionSummarySchema) });
