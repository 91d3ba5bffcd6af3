import { Type, type Static } from "typebox";

// Response shapes, declared once: they drive serialization (unknown properties are dropped, so
// a private field can never leak through a public route) and the OpenAPI document.

export const ProblemSchema = Type.Object({
  type: Type.String({ description: "where the code is explained: its entry on /docs" }),
  title: Type.String({ description: "the status's reason phrase" }),
  status: Type.Integer(),
  detail: Type.String({ description: "what is wrong here, in words" }),
  code: Type.String({ description: "stable `HOLDOUT_ERR_*` code, listed on /docs" }),
  instance: Type.Optional(
    Type.String({ description: "the request's path; absent only when the request was not readable HTTP" }),
  ),
  errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  /** When a refused request may succeed (quota and rate limits); also sent as Retry-After. */
  retryAt: Type.Optional(Type.String()),
});

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

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

/** One set of scores as teams and the public read them: rounded to the released precision. */
export const ReleasedScoresSchema = Type.Object({
  meanAuc: Type.Number(),
  meanAuc95: Interval,
  meanRadsBelowCurve: Type.Number(),
  tasks: Type.Array(ScoredTaskSchema),
});

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

export const SubmissionSchema = Type.Object({
  id: Type.String(),
  team: Type.String(),
  model: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  link: Type.Union([Type.String(), Type.Null()]),
  ensemble: Type.Boolean(),
  kind: Type.String(),
  command: Type.Union([Type.String(), Type.Null()]),
  hidden: Type.Boolean(),
  state: Type.String(),
  failure: Type.Union([
    Type.Object({
      category: Type.String(),
      message: Type.String({
        description:
          "what happened; for a failure of the hidden run, the category's fixed explanation (nothing of the run's output)",
      }),
      detail: Type.Optional(
        Type.String({ description: "organizers only: the failure as the worker saw it" }),
      ),
    }),
    Type.Null(),
  ]),
  upload: Type.Object({ size: Type.Integer(), sha256: Type.String() }),
  image: Type.Union([Type.Object({ digest: Type.String(), size: Type.Integer() }), Type.Null()]),
  meanAuc: Type.Union([Type.Number(), Type.Null()], {
    description:
      "at the released precision; with a public/private split, on the public part; null until scored (or withheld by the ladder)",
  }),
  meanAuc95: Interval,
  meanRadsBelowCurve: Type.Union([Type.Number(), Type.Null()]),
  tasks: Type.Array(ScoredTaskSchema),
  precision: PrecisionSchema,
  privatePart: Type.Union([ReleasedScoresSchema, Type.Null()], {
    description: "with a public/private split, once the competition has closed: the private part's scores",
  }),
  final: Type.Boolean({
    description: "chosen by the team as one of its (at most two) final submissions (split competitions)",
  }),
  ladder: LadderSchema,
  organizer: Type.Optional(
    Type.Object(
      {
        full: Nullable(FullScoresSchema),
        publicPart: Nullable(FullScoresSchema),
        privatePart: Nullable(FullScoresSchema),
        ladderImproved: Nullable(Type.Boolean()),
      },
      { description: "organizers only: the stored scores at full precision" },
    ),
  ),
  createdAt: Type.String(),
  queuedAt: Type.Union([Type.String(), Type.Null()]),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  links: Type.Object({
    self: Type.String(),
    log: Type.String(),
    events: Type.String(),
    curves: Type.String(),
  }),
});
export type SubmissionView = Static<typeof SubmissionSchema>;

/** What anyone may see of a listed entry: the leaderboard's fields and nothing else. */
export const PublicSubmissionSchema = Type.Object({
  id: Type.String(),
  team: Type.String(),
  model: Type.String(),
  link: Type.Union([Type.String(), Type.Null()]),
  ensemble: Type.Boolean(),
  meanAuc: Type.Number(),
  meanAuc95: Interval,
  meanRadsBelowCurve: Type.Number(),
  tasks: Type.Array(ScoredTaskSchema),
  privatePart: Nullable(ReleasedScoresSchema),
  createdAt: Type.String(),
});

export const AcceptedSchema = Type.Object({
  id: Type.String(),
  state: Type.String(),
  statusUrl: Type.String(),
});

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
export type Leaderboard = Static<typeof LeaderboardSchema>;

export const IdParamsSchema = Type.Object({ id: Type.String({ maxLength: 100 }) });

/** Ids are UUIDs; anything else is answered 404 without a database round trip. */
export { UUID } from "@holdout/contracts";

export const QuotaSchema = Type.Object({
  perDay: Type.Integer({ description: "submissions per rolling 24 hours" }),
  total: Type.Integer({ description: "submissions in the whole competition" }),
  usedInWindow: Type.Integer(),
  usedTotal: Type.Integer(),
  remaining: Type.Integer({ description: "submissions the team may make right now" }),
  nextSlotAt: Type.Union([Type.String(), Type.Null()], {
    description: "when the rolling window frees a slot, if it is full",
  }),
  totalExhausted: Type.Boolean(),
});

const OperatingPointSchema = Type.Object({
  fpr: Type.Number(),
  sensitivity: Type.Number(),
  precision: Nullable(Type.Number()),
});

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
