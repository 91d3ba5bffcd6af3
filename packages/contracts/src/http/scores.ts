import { Type, type Static } from "typebox";

// The shapes every set of scores takes on the wire: a submission's, a leaderboard entry's, a part's.

export const TaskResultSchema = Type.Object({
  task: Type.String(),
  auc: Type.Number(),
  radsBelowCurve: Type.Integer(),
});

/**
 * A [lo, hi] pair, or null. Written as an array of exactly two numbers: OpenAPI 3.0 has no tuple
 * form (its `items` is one schema), and a tuple made the whole document invalid. Its static type
 * stays the pair.
 */
export function intervalSchema(description: string) {
  return Type.Unsafe<[lo: number, hi: number] | null>(
    Type.Union([Type.Array(Type.Number(), { minItems: 2, maxItems: 2 }), Type.Null()], { description }),
  );
}

export const Interval = intervalSchema(
  "95% bootstrap confidence interval [lo, hi]; null until the scorer has computed it",
);

/** A task's result with the uncertainty the scorer measures (submissions and the ranked leaderboard). */
export const ScoredTaskSchema = Type.Object({ ...TaskResultSchema.properties, auc95: Interval });
export type ScoredTask = Static<typeof ScoredTaskSchema>;

export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) =>
  Type.Union([t, Type.Null()]);

/** One set of scores as teams and the public read them: rounded to the released precision. */
export const ReleasedScoresSchema = Type.Object({
  meanAuc: Type.Number(),
  meanAuc95: Interval,
  meanRadsBelowCurve: Type.Number(),
  tasks: Type.Array(ScoredTaskSchema),
});
export type ReleasedScores = Static<typeof ReleasedScoresSchema>;

/** Organizers' extra view of one set of scores: full precision, as stored. */
export const FullScoresSchema = Type.Object({
  ...ReleasedScoresSchema.properties,
  score: Type.Number(),
});

export const PrecisionSchema = Type.Object(
  {
    auc: Type.Integer({ description: "decimals of every AUC and interval bound" }),
    rads: Type.Integer({ description: "decimals of Num Rads Below Curve" }),
  },
  { description: "the released precision: every score a team or the public reads is rounded to it" },
);
export type Precision = Static<typeof PrecisionSchema>;

export const LadderSchema = Nullable(
  Type.Object(
    {
      improved: Type.Boolean(),
      note: Type.String(),
    },
    {
      description:
        "ladder mode: whether this score significantly beat the team's best released one; if not, no score of it is released",
    },
  ),
);

const OperatingPointSchema = Type.Object({
  fpr: Type.Number(),
  sensitivity: Type.Number(),
  precision: Nullable(Type.Number()),
});

/** The hidden-set curves of a submission: published when the competition closes. */
export const CurvesSchema = Type.Object({
  tasks: Type.Array(
    Type.Object({
      task: Type.String(),
      auc: Type.Number(),
      roc: Type.Array(Type.Array(Type.Number()), { description: "[fpr, tpr] vertices" }),
      pr: Nullable(Type.Array(Type.Array(Type.Number()), { description: "[recall, precision] points" })),
      readers: Type.Array(Type.Object({ id: Type.String(), ...OperatingPointSchema.properties })),
      majority: Nullable(OperatingPointSchema),
    }),
  ),
});
export type Curves = Static<typeof CurvesSchema>;
