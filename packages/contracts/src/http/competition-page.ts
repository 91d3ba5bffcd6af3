import { Type, type Static } from "typebox";
import { PhaseSummarySchema } from "./competitions.ts";

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const ProseSchema = Type.Object({
  markdown: Type.String({ description: "Markdown, as the organizers wrote it (or the standard text)" }),
  standard: Type.Boolean({ description: "true: the server's standard text, the organizers wrote none" }),
});

/** The limits one group of workers applies to every run (apps/worker publishes them with its heartbeat). */
export const WorkerLimitsSchema = Type.Object({
  workers: Type.Integer({ description: "how many live workers apply exactly these limits" }),
  memoryMb: Type.Number(),
  cpus: Type.Number(),
  timeoutSeconds: Type.Number({ description: "the hidden run's wall clock" }),
  smokeTimeoutSeconds: Type.Number({ description: "the smoke run's wall clock" }),
  outputMb: Type.Number({ description: "size of /out, where predictions.csv is written" }),
  tmpMb: Type.Number({ description: "size of /tmp (counts against memory)" }),
  pids: Type.Number(),
  openFiles: Type.Number(),
  network: Type.Literal("none"),
  gpus: Type.Union([Type.Literal("none"), Type.Literal("all"), Type.Number()], {
    description: "none, all, or how many GPUs each run is granted",
  }),
  imageMaxMb: Type.Number({ description: "largest image archive accepted" }),
  imageMaxUnpackedMb: Type.Number(),
  imageMaxLayers: Type.Number(),
  architecture: Nullable(Type.String({ description: "image architecture accepted; null: the engine's" })),
  hiddenLog: Type.Union([Type.Literal("none"), Type.Literal("tail")], {
    description: "what a team reads of its hidden run's log",
  }),
});

const ReaderPointSchema = Type.Object({
  task: Type.String(),
  reader: Type.String(),
  sensitivity: Type.Number(),
  specificity: Type.Number(),
});

/** `GET /api/v1/competition`: everything a participant needs to know before a first submission. */
export const CompetitionPageSchema = Type.Object({
  slug: Type.String(),
  name: Type.String(),
  status: Type.Union([
    Type.Literal("upcoming"),
    Type.Literal("open"),
    Type.Literal("between"),
    Type.Literal("ended"),
    Type.Literal("closed"),
  ]),
  closedAt: Nullable(Type.String({ format: "date-time" })),
  overview: ProseSchema,
  data: ProseSchema,
  rules: ProseSchema,
  terms: ProseSchema,
  metric: Type.Object({
    scorer: Type.Union([Type.Literal("chexpert"), Type.Literal("mean-auc")]),
    tasks: Type.Array(Type.String(), {
      description: "the label columns predictions.csv must hold, in order",
    }),
    description: Type.String(),
    rules: Type.Array(Type.String()),
    ranking: Type.String(),
  }),
  precision: Type.Object({
    aucDecimals: Type.Integer({ description: "decimals of every AUC and interval bound released" }),
    radsDecimals: Nullable(
      Type.Integer({ description: "decimals of Num Rads Below Curve; null: no readers" }),
    ),
  }),
  aucFloor: Type.Number({ description: "entries whose mean AUC is below this are scored but not listed" }),
  readers: Nullable(
    Type.Object(
      {
        published: Type.Boolean({ description: "false while the competition is open" }),
        note: Type.String(),
        points: Type.Array(ReaderPointSchema),
      },
      { description: "the benchmark radiologists' operating points on the hidden set (chexpert only)" },
    ),
  ),
  participate: Type.Object({
    registrationOpen: Type.Boolean(),
    requireApproval: Type.Boolean(),
    register: Type.String({ description: "the registration page" }),
    submit: Type.String({ description: "the submission page" }),
    api: Type.String({ description: "this competition's API scope" }),
    cliInstall: Type.String({
      description: "the one line that installs the holdout command from this server",
    }),
    developmentSet: Type.String({ description: "how to make local test data" }),
  }),
  limits: Type.Object({
    uploadMaxBytes: Type.Integer({ description: "largest upload the API takes" }),
    bundleMaxBytes: Type.Integer({ description: "largest unpacked code bundle" }),
    bundleMaxFiles: Type.Integer(),
    workers: Type.Array(WorkerLimitsSchema, {
      description: "the limits the live workers serving this competition apply (empty: none is running now)",
    }),
  }),
  runtime: Nullable(
    Type.Object(
      {
        image: Type.String(),
        imageId: Nullable(Type.String()),
        listedAt: Nullable(Type.String({ format: "date-time" })),
        packages: Type.Array(
          Type.Object({
            source: Type.Union([Type.Literal("deb"), Type.Literal("python")]),
            name: Type.String(),
            version: Type.String(),
          }),
        ),
      },
      { description: "the image code bundles run in and what it holds, as a worker listed it" },
    ),
  ),
  quota: Type.Object({
    perDay: Type.Integer({ description: "submissions per rolling 24 hours" }),
    total: Type.Integer(),
    note: Type.String(),
  }),
  phases: Type.Array(
    Type.Object({
      ...PhaseSummarySchema.properties,
      quotaPerDay: Nullable(Type.Integer({ description: "null: the competition's" })),
      quotaTotal: Nullable(Type.Integer()),
    }),
  ),
  ladder: Type.Boolean({
    description: "a new score is released only when it significantly beats the team's best",
  }),
  split: Type.Boolean({
    description:
      "the board ranks on a public part of the hidden set while open; the final ranking on the rest",
  }),
});
export type CompetitionPage = Static<typeof CompetitionPageSchema>;
