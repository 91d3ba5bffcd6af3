import { Type, type Static } from "typebox";
import { Interval, PrecisionSchema, ScoredTaskSchema, TaskResultSchema } from "./scores.ts";

/** The original leaderboard's fields of one entry, as the official board lists them. */
export const LeaderboardEntrySchema = Type.Object({
  rank: Type.Integer(),
  submissionId: Type.String(),
  date: Type.String(),
  team: Type.String(),
  institution: Type.Union([Type.String(), Type.Null()]),
  model: Type.String(),
  link: Type.Union([Type.String(), Type.Null()]),
  ensemble: Type.Boolean(),
  meanAuc: Type.Number(),
  meanRadsBelowCurve: Type.Number(),
  score: Type.Number(),
  display: Type.Object({ auc: Type.String(), rads: Type.String() }),
  tasks: Type.Array(TaskResultSchema),
});

export const LeaderboardSchema = Type.Object({
  competition: Type.Object({ slug: Type.String(), name: Type.String(), aucFloor: Type.Number() }),
  generatedAt: Type.String(),
  entries: Type.Array(LeaderboardEntrySchema),
});

// The original board plus the uncertainty the scorer measures: the 95% bootstrap interval of each
// AUC and whether the entry is statistically tied with the leader; whether it is a baseline, and whether it was scored on an earlier version of the test set. Additive only: clients of the
// original fields see them unchanged. Every figure is at the released precision.
export const LeaderboardTaskSchema = ScoredTaskSchema;

export const RankedEntrySchema = Type.Object({
  ...LeaderboardEntrySchema.properties,
  baseline: Type.Boolean({
    description:
      "an organizer's baseline (such as the official board's \"Stanford Baseline\"): ranked like any entry, but never the leader that `tiedWithLeader` compares with, and never marked itself",
  }),
  earlierTestset: Type.Boolean({
    description:
      "scored on an earlier version of the test set: an audit found the set's content changed since, and the entry has not been re-scored on the current one",
  }),
  meanAuc95: Interval,
  tiedWithLeader: Type.Union([Type.Boolean(), Type.Null()], {
    description:
      "a paired bootstrap comparison (5% level) cannot tell this entry from the leader; null until computed",
  }),
  display: Type.Object({
    auc: Type.String(),
    rads: Type.String(),
    auc95: Type.Union([Type.String(), Type.Null()]),
  }),
  tasks: Type.Array(LeaderboardTaskSchema),
});

export const BoardSchema = Type.Union(
  [Type.Literal("full"), Type.Literal("public"), Type.Literal("private")],
  {
    description:
      "what `entries` are ranked on: the whole test set (`full`), its public part (a split competition while open), or its private part (the finals, once closed)",
  },
);
export type Board = Static<typeof BoardSchema>;

/** `GET /api/v1/leaderboard`: what the leaderboard page, the CSV and `holdout leaderboard` show. */
export const RankedLeaderboardSchema = Type.Object({
  ...LeaderboardSchema.properties,
  competition: Type.Object({
    ...LeaderboardSchema.properties.competition.properties,
    state: Type.Union([Type.Literal("open"), Type.Literal("closed")]),
    closedAt: Type.Union([Type.String(), Type.Null()]),
  }),
  board: BoardSchema,
  precision: PrecisionSchema,
  entries: Type.Array(RankedEntrySchema),
  publicEntries: Type.Optional(
    Type.Array(RankedEntrySchema, {
      description: "a split competition, once closed: the public part's board as it stood",
    }),
  ),
});
export type RankedLeaderboard = Static<typeof RankedLeaderboardSchema>;
export type RankedLeaderboardEntry = Static<typeof RankedEntrySchema>;
