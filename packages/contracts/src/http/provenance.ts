import { Type, type Static } from "typebox";
import { Nullable } from "./scores.ts";

// Where a score came from, as its team and the organizers read it (docs/architecture.md,
// "Provenance and audit"). Nothing per study: the set is named by its whole content's hash.

export const RunLimitsSchema = Type.Object({
  memoryBytes: Type.Number(),
  cpus: Type.Number(),
  wallClockMs: Type.Number(),
  outputBytes: Type.Number(),
  tmpBytes: Type.Number(),
  pids: Type.Number(),
  network: Type.Literal("none"),
  gpu: Nullable(Type.String({ description: "`all`, a count or device ids; null: no GPU" })),
});
export type RunLimitsView = Static<typeof RunLimitsSchema>;

const Interval = Type.Object({ startedAt: Type.String(), endedAt: Type.String() });

export const ProvenanceSchema = Type.Object(
  {
    imageId: Type.String({
      description: "the uploaded image's ID (SHA-256 of its config); for a code bundle, the runtime image's",
    }),
    runtimeImage: Nullable(Type.String({ description: "a code bundle's runtime image, by name" })),
    uploadSha256: Type.String(),
    scorer: Type.String(),
    scorerVersion: Type.String(),
    bootstrap: Type.Object({ replicates: Type.Integer(), seed: Type.Integer() }),
    dataset: Type.String({ description: "`hidden` (the test set) or `development`" }),
    testsetSha256: Type.String({
      description:
        "the SHA-256 of the whole set's content (every file's path and hash) as the worker read it",
    }),
    worker: Type.String(),
    limits: RunLimitsSchema,
    smokeLimits: Nullable(RunLimitsSchema),
    smokeRun: Nullable(Interval),
    run: Interval,
    recordedAt: Type.String(),
    testsetChanged: Nullable(
      Type.Object(
        { foundAt: Type.String(), currentSha256: Type.String() },
        {
          description:
            "scored on a previous version of the test set: an audit found its content changed since",
        },
      ),
    ),
  },
  {
    description:
      "where the score came from; null when it was not recorded (scored before provenance was kept)",
  },
);
export type ProvenanceView = Static<typeof ProvenanceSchema>;

/** A re-score's before and after, at full precision: organizers only. */
export const ScoreRevisionSchema = Type.Object({
  at: Type.String(),
  actor: Type.String(),
  previous: Type.Unknown(),
  next: Type.Unknown(),
  previousTestsetSha256: Nullable(Type.String()),
  testsetSha256: Nullable(Type.String()),
});
export type ScoreRevisionView = Static<typeof ScoreRevisionSchema>;
