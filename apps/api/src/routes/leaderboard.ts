import { stringify, type Options as CsvOptions } from "csv-stringify/sync";
import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { Type } from "typebox";
import { RankedLeaderboardSchema } from "@holdout/contracts/http";
import type { CompetitionInfo, LeaderboardSource } from "../services/leaderboard.ts";

export interface LeaderboardRoutesOptions {
  board: LeaderboardSource;
  competition: CompetitionInfo;
}

const taskColumn = (prefix: string, task: string) => `${prefix}_${task.toLowerCase().replaceAll(" ", "_")}`;

// Named up front, so an empty board still has its header and every row the same columns. The
// original columns first, in their order; the interval, tie, time, baseline and earlier-test-set columns are appended. The task
// columns are the competition's (its test set's tasks); only CheXpert has radiologists to count.
const csvColumns = (c: CompetitionInfo) => [
  "rank",
  "date",
  "model",
  "team",
  "institution",
  "link",
  "ensemble",
  "mean_auc",
  ...(c.scorer === "chexpert" ? ["num_rads_below_curve"] : []),
  ...c.tasks.map((t) => taskColumn("auc", t)),
  "mean_auc_lo",
  "mean_auc_hi",
  "tied_with_leader",
  ...c.tasks.flatMap((t) => [taskColumn("auc_lo", t), taskColumn("auc_hi", t)]),
  "submitted_at",
  "baseline",
  "earlier_test_set",
];

/**
 * How the CSV is written so spreadsheets and pandas read it without options (RFC 4180): CRLF line
 * ends, a header row, a UTF-8 byte order mark (without it Excel reads UTF-8 names as its legacy code
 * page), booleans as TRUE/FALSE, dates as ISO 8601 (`date` the calendar day every spreadsheet takes
 * for a date, `submitted_at` the instant in UTC). Team, model and institution names are the
 * participants' own text: escape_formulas prefixes a cell starting with = + - @ (or their full-width
 * forms, a tab or a CR) with ', so an organizer's spreadsheet shows it as text instead of running it.
 */
const CSV_OPTIONS: CsvOptions = {
  header: true,
  record_delimiter: "windows",
  bom: true,
  escape_formulas: true,
  cast: { boolean: (v) => (v ? "TRUE" : "FALSE") },
};

/** "2026-12-01T09:30:00.123Z" → "2026-12-01T09:30:00Z": the seconds are what anyone needs. */
const isoSeconds = (iso: string) => iso.replace(/\.\d+Z$/, "Z");

/**
 * The public leaderboard as data: JSON under the API's prefix here, CSV at the top level
 * (leaderboardCsvRoutes). The HTML page is in web/leaderboard-page.ts.
 */
const leaderboardRoutes: FastifyPluginCallbackTypebox<LeaderboardRoutesOptions> = (app, { board }, done) => {
  app.get(
    "/leaderboard",
    {
      schema: {
        summary: "The ranked public leaderboard",
        description:
          "Every figure is at the competition's released precision (`precision`). `meanAuc95` / `tasks[].auc95` are 95% bootstrap confidence intervals; `tiedWithLeader` marks entries a paired bootstrap comparison (5% level) cannot tell from the leader; all three are null until the scorer has computed them. `board` says what `entries` rank on: the whole test set, or with a public/private split its public part while open and the teams' finals on the private part once closed (the public board then in `publicEntries`).",
        response: { 200: RankedLeaderboardSchema },
      },
    },
    async (request, typedReply) => {
      // The cached serialization, sent as is (the schema above documents its shape for /docs; the
      // typed reply would insist on the object); 304 when the client has this version.
      const reply: FastifyReply = typedReply;
      const { body, etag } = await board.json();
      void reply.header("etag", etag).header("cache-control", "no-cache");
      if (request.headers["if-none-match"] === etag) return reply.code(304).send();
      return reply.type("application/json").send(body);
    },
  );

  done();
};

/** The leaderboard as CSV at `/leaderboard.csv`, beside the HTML page (not under the API's prefix). */
export const leaderboardCsvRoutes: FastifyPluginCallbackTypebox<LeaderboardRoutesOptions> = (
  app,
  { board, competition },
  done,
) => {
  const CSV_COLUMNS = csvColumns(competition);
  const csvResponse = {
    description: "One row per listed entry, with a header row (an attachment)",
    content: { "text/csv": { schema: Type.String({ description: `columns: ${CSV_COLUMNS.join(", ")}` }) } },
  };
  app.get(
    "/leaderboard.csv",
    {
      schema: {
        summary: "The leaderboard as CSV",
        description:
          "The ranked entries at the released precision. A split competition, once closed: the final (private-part) ranking, or the public part's with `?board=public`.",
        querystring: Type.Object({ board: Type.Optional(Type.Literal("public")) }),
        response: { 200: csvResponse },
      },
    },
    async (request, reply) => {
      const current = await board.get();
      const entries =
        request.query.board === "public" ? (current.publicEntries ?? current.entries) : current.entries;
      const csv = stringify(
        entries.map((e) => ({
          rank: e.rank,
          date: e.date.slice(0, 10),
          model: e.model,
          team: e.team,
          institution: e.institution ?? "",
          link: e.link ?? "",
          ensemble: e.ensemble,
          mean_auc: e.meanAuc,
          num_rads_below_curve: e.meanRadsBelowCurve,
          ...Object.fromEntries(e.tasks.map((t) => [taskColumn("auc", t.task), t.auc])),
          mean_auc_lo: e.meanAuc95?.[0] ?? "",
          mean_auc_hi: e.meanAuc95?.[1] ?? "",
          tied_with_leader: e.tiedWithLeader ?? "",
          ...Object.fromEntries(
            e.tasks.flatMap((t) => [
              [taskColumn("auc_lo", t.task), t.auc95?.[0] ?? ""],
              [taskColumn("auc_hi", t.task), t.auc95?.[1] ?? ""],
            ]),
          ),
          submitted_at: isoSeconds(e.date),
          baseline: e.baseline,
          earlier_test_set: e.earlierTestset,
        })),
        { ...CSV_OPTIONS, columns: CSV_COLUMNS },
      );
      return reply
        .type("text/csv; charset=utf-8")
        .header("content-disposition", `attachment; filename="${competition.slug}-leaderboard.csv"`)
        .send(csv);
    },
  );
  done();
};

export default leaderboardRoutes;
