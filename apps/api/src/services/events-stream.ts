import type { FastifyReply, FastifyRequest } from "fastify";
import { isFinalState, type SubmissionState } from "@holdout/contracts";
import type { QueueEstimate, TimelineEvent } from "@holdout/contracts/http";
import { listSubmissionEvents, type Db } from "@holdout/db";
import { timelineEvent, type EventHub, type Watcher } from "./events-hub.ts";
import { queueEstimateOf, NOT_QUEUED } from "./queue-position.ts";

/** A comment line every this often keeps proxies and browsers from closing an idle stream. */
export const HEARTBEAT_MS = 15_000;

/**
 * Serves one submission's timeline as server-sent events:
 *   `event: timeline` (id = the event row's id) for every row after Last-Event-ID, in order;
 *   `event: queue` {position, estimatedStartAt} while queued, whenever it changes (and once with
 *   nulls when it leaves the queue);
 *   `event: end` {state} once the submission is final, then the stream closes.
 * A final submission with nothing after Last-Event-ID is answered 204 instead: the HTML standard's
 * way to tell an EventSource not to reconnect (a 200 with `end` made it come back every few
 * seconds, for ever). The caller has already checked that the requester may see the submission.
 */
export async function streamSubmissionEvents(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: { db: Db; hub: EventHub },
  submission: { id: string; competitionId: string; state: SubmissionState; queuedAt: Date | null },
  lastEventId: bigint,
): Promise<void> {
  const { db, hub } = deps;
  if (isFinalState(submission.state)) {
    const unseen = (await listSubmissionEvents(db, submission.id)).some((e) => e.id > lastEventId);
    if (!unseen) {
      await reply.code(204).header("cache-control", "no-store").send();
      return;
    }
  }
  const res = reply.raw;
  reply.hijack();
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    // Reverse proxies (nginx) must pass each event on at once, not buffer the response.
    "x-accel-buffering": "no",
  });
  res.flushHeaders();

  let closed = false;
  let unwatch: (() => void) | null = null;
  let lastQueue = "";
  const heartbeat = setInterval(() => write(": keep-alive\n\n"), HEARTBEAT_MS);
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unwatch?.();
    unwatch = null;
    res.end();
  };
  // A client that goes away ends everything this stream holds: its watcher and its timer.
  request.raw.once("close", finish);
  res.once("close", finish);

  function write(text: string) {
    if (!closed) res.write(text);
  }
  function send(event: string, data: unknown, id?: string) {
    write(`${id !== undefined ? `id: ${id}\n` : ""}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }
  function sendQueue(q: QueueEstimate) {
    const text = JSON.stringify(q);
    // Nothing to say about the queue for a submission that was never seen queued here.
    if (text === lastQueue || (lastQueue === "" && q.position === null)) return;
    lastQueue = text;
    send("queue", q);
  }

  const watcher: Watcher = {
    submissionId: submission.id,
    cursor: lastEventId,
    queued: submission.state === "queued",
    onEvents(events: TimelineEvent[]) {
      for (const e of events) {
        send("timeline", e, e.id);
        watcher.queued = e.state === "queued";
        if (!watcher.queued) sendQueue(NOT_QUEUED);
        if (isFinalState(e.state as SubmissionState)) {
          send("end", { state: e.state });
          finish();
          return;
        }
      }
    },
    onQueue: sendQueue,
    onClose: finish,
  };

  // Catch up from the database, then follow through the shared poller. Watching starts before the
  // read so nothing written in between is missed; the cursor drops what the read already sent.
  unwatch = hub.watch(watcher);
  const backlog = (await listSubmissionEvents(db, submission.id)).filter((e) => e.id > lastEventId);
  if (closed) return;
  const fresh = backlog.filter((e) => e.id > watcher.cursor);
  if (fresh.length > 0) {
    watcher.cursor = fresh[fresh.length - 1]!.id;
    watcher.onEvents(fresh.map(timelineEvent));
  }
  if (closed) return;
  // A final submission whose last event was already seen (a resumed stream): say so and stop.
  if (isFinalState(submission.state)) {
    send("end", { state: submission.state });
    finish();
    return;
  }
  if (watcher.queued) sendQueue(await queueEstimateOf(db, submission));
}
