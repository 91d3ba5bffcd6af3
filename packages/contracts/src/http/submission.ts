import { Type, type Static } from "typebox";
import {
  FullScoresSchema,
  Interval,
  LadderSchema,
  Nullable,
  PrecisionSchema,
  ReleasedScoresSchema,
  ScoredTaskSchema,
} from "./scores.ts";
import { ProvenanceSchema, ScoreRevisionSchema } from "./provenance.ts";

export const SubmissionSchema = Type.Object({
  id: Type.String(),
  team: Type.String(),
  baseline: Type.Boolean({
    description: "an organizer's baseline entry: ranked like any entry, never the leader for tie marks",
  }),
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
/** A submission as its team and the organizers read it (lists, hide/unhide answers). */
export type SubmissionView = Static<typeof SubmissionSchema>;

/** What the owner's view of one submission adds: where it stands in the queue, and refunds. */
export const SubmissionDetailSchema = Type.Object({
  ...SubmissionSchema.properties,
  queuePosition: Type.Union([Type.Integer(), Type.Null()], {
    description: "1 = next to start; null unless queued",
  }),
  estimatedStartAt: Type.Union([Type.String(), Type.Null()], {
    description: "from the median of recent run times and the live workers' capacity; null if unknown",
  }),
  refunded: Type.Boolean({ description: "not charged to the team's quota" }),
  failedPhase: Type.Union([Type.Literal("smoke"), Type.Literal("hidden"), Type.Null()]),
  provenance: Nullable(ProvenanceSchema),
  scoreRevisions: Type.Optional(
    Type.Array(ScoreRevisionSchema, {
      description: "organizers only: every re-score's figures before and after, oldest first",
    }),
  ),
});
/** `GET /api/v1/submissions/:id` as its team and the organizers read it. */
export type SubmissionDetail = Static<typeof SubmissionDetailSchema>;

/** What anyone may see of a listed entry: the leaderboard's fields and nothing else. */
export const PublicSubmissionSchema = Type.Object({
  id: Type.String(),
  team: Type.String(),
  baseline: Type.Boolean({
    description: "an organizer's baseline entry: ranked like any entry, never the leader for tie marks",
  }),
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
export type PublicSubmission = Static<typeof PublicSubmissionSchema>;

/** The answer to an upload: the submission it became. */
export const AcceptedSchema = Type.Object({
  id: Type.String(),
  state: Type.String(),
  statusUrl: Type.String(),
});

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
export type QuotaView = Static<typeof QuotaSchema>;

/** One state change of a submission: a JSON timeline entry, and the data of an SSE `timeline` event. */
export const TimelineEventSchema = Type.Object({
  id: Type.String({ description: "increasing; the SSE `id:` of this event" }),
  at: Type.String(),
  state: Type.String(),
  worker: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Union([Type.String(), Type.Null()]),
});
export type TimelineEvent = Static<typeof TimelineEventSchema>;

export const TimelineSchema = Type.Object({ events: Type.Array(TimelineEventSchema) });

/**
 * Where a queued submission stands: the data of an SSE `queue` event, and the queue's figures on
 * the pages and in the organizers' queue view. Both null unless queued (the time also when unknown).
 */
export const QueueEstimateSchema = Type.Object({
  position: Nullable(Type.Integer()),
  estimatedStartAt: Nullable(Type.String()),
});
export type QueueEstimate = Static<typeof QueueEstimateSchema>;

/** A run's log as the team (or, whole, an organizer) reads it. */
export const RunLogSchema = Type.Object({
  phase: Type.String(),
  text: Type.String(),
  truncated: Type.Boolean(),
  /** What `text` holds of what the model printed (packages/contracts run-log.ts). */
  kept: Type.Union([
    Type.Literal("whole"),
    Type.Literal("beginning_and_end"),
    Type.Literal("end"),
    Type.Literal("withheld"),
  ]),
});
export type RunLog = Static<typeof RunLogSchema>;

export const CancelOutcomeSchema = Type.Object({
  id: Type.String(),
  outcome: Type.Union([Type.Literal("cancelled"), Type.Literal("stopping")]),
  state: Type.String(),
});
