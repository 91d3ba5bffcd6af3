import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import type { EvaluateQueue, NotifyQueue } from "@holdout/contracts";
import {
  findSubmission,
  findSubmissionLog,
  listSubmissionEvents,
  ownerOf,
  requestCancel,
  type Db,
} from "@holdout/db";
import {
  CancelOutcomeSchema,
  CurvesSchema,
  ProblemSchema,
  RunLogSchema,
  TimelineSchema,
} from "@holdout/contracts/http";
import { Errors } from "../errors.ts";
import { currentPrincipal } from "../plugins/auth.ts";
import { IdParamsSchema, UUID } from "../schemas/common.ts";
import { curvesOf, pairsOf } from "../services/curves.ts";
import { queueEndNotice } from "../services/notifications.ts";
import { timelineEvent, type EventHub } from "../services/events-hub.ts";
import { streamSubmissionEvents } from "../services/events-stream.ts";
import { byTaskOrder, currentRelease, isPublicEntry, roundTo, shownScores } from "../services/release.ts";
import type { AcquireStreamSlot } from "../services/stream-slots.ts";
import { canSeeWhole, readableLog } from "../services/submission-view.ts";

export interface SubmissionDetailRoutesOptions {
  db: Db;
  competitionId: string;
  /** Entries under it are not listed (their curves stay their team's). */
  aucFloor: number;
  /** The process's shared poller feeding every server-sent event stream. */
  events: EventHub;
  /** To take a cancelled submission's job off the queue while it waits. */
  queue: EvaluateQueue;
  /** Where a submission cancelled while it waited has its notifications queued (none: not sent). */
  notifyQueue?: Pick<NotifyQueue, "add"> | undefined;
  /** Caps on open event streams per team and per address (services/stream-slots.ts). */
  streamSlot: AcquireStreamSlot;
}

const wantsEventStream = (request: FastifyRequest) =>
  (request.headers.accept ?? "").toLowerCase().includes("text/event-stream");

// What only a submission's team and the organizers may read or do: its logs, timeline, and
// cancelling it (everyone else gets 404 for any id, listed or not); and its hidden-set curves,
// published once the competition closes.
const submissionDetailRoutes: FastifyPluginCallbackTypebox<SubmissionDetailRoutesOptions> = (
  app,
  { db, competitionId, aucFloor, events, queue, notifyQueue, streamSlot },
  done,
) => {
  async function wholeSubmission(request: FastifyRequest, id: string) {
    const s = UUID.test(id) ? await findSubmission(db, id) : null;
    if (!s || s.competitionId !== competitionId || !canSeeWhole(request.principal, s)) {
      throw new Errors.NotFound(`no submission ${id}`);
    }
    return s;
  }

  app.get(
    "/submissions/:id/log",
    {
      onRequest: app.requireAuth,
      schema: {
        summary: "A run's log (stdout and stderr, capped), for the submitting team",
        description:
          "`phase=smoke`: the smoke run on development studies, always in full. `phase=hidden` (default): the hidden run, as the competition's log policy allows.",
        params: IdParamsSchema,
        querystring: Type.Object({
          phase: Type.Optional(Type.Union([Type.Literal("smoke"), Type.Literal("hidden")])),
        }),
        response: {
          200: RunLogSchema,
          "4xx": ProblemSchema,
        },
      },
    },
    async (request) => {
      const s = await wholeSubmission(request, request.params.id);
      const phase = request.query.phase ?? "hidden";
      const log = await findSubmissionLog(db, s.id, phase);
      return { phase, ...readableLog(log, request.principal?.role === "organizer") };
    },
  );

  app.get(
    "/submissions/:id/events",
    {
      onRequest: app.requireAuth,
      schema: {
        summary: "The submission's timeline: every state change (JSON, or server-sent events)",
        description:
          "With `Accept: text/event-stream`: `timeline` events (with `id:`; send `Last-Event-ID` to resume), `queue` events ({position, estimatedStartAt}) while queued, sent when either changes, then `end` ({state}) once final, and the stream closes. A reconnection to a final submission that has nothing more to send is answered 204, which tells an EventSource to stop. Comment lines every 15 s keep it open. Open streams are capped per team and per client address (429 `HOLDOUT_ERR_TOO_MANY_STREAMS` with Retry-After beyond).",
        params: IdParamsSchema,
        headers: Type.Object({ "last-event-id": Type.Optional(Type.String({ maxLength: 40 })) }),
        response: {
          200: {
            description: "The timeline: JSON, or a stream of server-sent events (by Accept)",
            content: {
              "application/json": { schema: TimelineSchema },
              "text/event-stream": {
                schema: Type.String({
                  description: "`timeline`, `queue` and `end` events, each with a JSON `data` line",
                }),
              },
            },
          },
          204: Type.Null({
            description:
              "Event stream only: the submission is final and the client has every event (Last-Event-ID); nothing more will come",
          }),
          "4xx": ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const s = await wholeSubmission(request, request.params.id);
      if (!wantsEventStream(request)) {
        const rows = await listSubmissionEvents(db, s.id);
        return { events: rows.map(timelineEvent) };
      }
      const raw = request.headers["last-event-id"]?.trim() ?? "";
      if (raw !== "" && !/^\d{1,19}$/.test(raw)) {
        throw Object.assign(new Errors.InvalidField("Last-Event-ID must be the id of a timeline event"), {
          errors: [{ field: "Last-Event-ID", message: "must be a timeline event id (digits)" }],
        });
      }
      // Over a cap: 429 before the stream opens. The slot is held until the response closes, however.
      const slot = await streamSlot(request, ownerOf(currentPrincipal(request)));
      reply.raw.once("close", () => slot.release());
      await streamSubmissionEvents(request, reply, { db, hub: events }, s, raw === "" ? 0n : BigInt(raw));
      return reply;
    },
  );

  app.post(
    "/submissions/:id/cancel",
    {
      onRequest: app.requireAuth,
      schema: {
        summary: "Cancel a submission that is not final (its team or an organizer)",
        description:
          "Queued: cancelled at once (`cancelled`). Running: the worker stops it within a heartbeat (`stopping`). Final already: 409. A cancelled submission stays charged to the quota.",
        params: IdParamsSchema,
        response: {
          200: CancelOutcomeSchema,
          "4xx": ProblemSchema,
        },
      },
    },
    async (request) => {
      const s = await wholeSubmission(request, request.params.id);
      const result = await requestCancel(db, s.id);
      if (!result) throw new Errors.NotFound(`no submission ${s.id}`);
      if (result.outcome === "final") {
        throw new Errors.AlreadyFinal(
          `submission ${s.id} is already ${result.state}; there is nothing to cancel`,
        );
      }
      if (result.outcome === "cancelled") {
        // Off the queue while it waits; a job a worker already holds finds it cancelled and stops.
        const job = await queue.getJob(s.id);
        const waiting = ["waiting", "delayed", "prioritized"];
        if (job && waiting.includes(await job.getState())) {
          // A worker taking it in between holds its lock and the removal fails: harmless, see above.
          await job.remove().catch((err: unknown) => request.log.warn({ err }, "queued job not removed"));
        }
        // No worker runs it now, so none will queue its notifications.
        if (notifyQueue) await queueEndNotice(notifyQueue, s.id, request.log);
      }
      return { id: s.id, outcome: result.outcome, state: result.state };
    },
  );

  app.get(
    "/submissions/:id/curves",
    {
      schema: {
        summary:
          "The hidden-set ROC and precision-recall curves of every task, with the radiologists' points",
        description:
          "Published when the competition closes: then for every listed entry to anyone, and to its team for all of its own. While it is open, only organizers read them (403 `HOLDOUT_ERR_CURVES_NOT_PUBLISHED` for the team): a curve's vertices would let anyone rebuild the hidden labels.",
        params: IdParamsSchema,
        response: { 200: CurvesSchema, "4xx": ProblemSchema },
      },
    },
    async (request) => {
      const { id } = request.params;
      const s = UUID.test(id) ? await findSubmission(db, id) : null;
      if (!s || s.competitionId !== competitionId) throw new Errors.NotFound(`no submission ${id}`);
      const release = await currentRelease(db, competitionId);
      const organizer = request.principal?.role === "organizer";
      const mayRead = canSeeWhole(request.principal, s) || isPublicEntry(s, release, aucFloor);
      if (!mayRead) throw new Errors.NotFound(`no submission ${id}`);
      if (!organizer && !release.closed) {
        throw new Errors.CurvesNotPublished(
          "the hidden-set curves are published when the competition closes; until then the submission's scores are its released figures",
        );
      }
      // Withheld by the ladder: nothing of it was released, and closing publishes the released entries.
      if (!organizer && shownScores(s, release).withheld) {
        throw new Errors.CurvesNotPublished("this submission's results were withheld by the ladder");
      }
      return {
        tasks: byTaskOrder(s.results).map((r) => {
          const c = curvesOf(r.curves);
          return {
            task: r.task,
            auc: organizer ? r.auc : roundTo(r.auc, release.aucDecimals),
            roc: pairsOf(r.roc) ?? [],
            pr: c.pr,
            readers: c.readers,
            majority: c.majority,
          };
        }),
      };
    },
  );
  done();
};

export default submissionDetailRoutes;
