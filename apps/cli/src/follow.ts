import { createParser } from "eventsource-parser";
import { isFinalState, isSubmissionState } from "@holdout/contracts";
import type { QueueEstimate, SubmissionDetail, TimelineEvent } from "@holdout/contracts/http";
import { authHeaders, endpoint, getJson, problemOf, type Remote } from "./api-client.ts";

const clock = (iso: string) => new Date(iso).toISOString().slice(11, 19);

export function timelineLine(e: TimelineEvent): string {
  const who = e.worker ? ` [${e.worker}]` : "";
  return `${clock(e.at)}  ${e.state.padEnd(9)} ${e.detail ?? ""}${who}`.trimEnd();
}

export function queueLine(q: QueueEstimate): string | null {
  if (q.position === null) return null;
  const eta = q.estimatedStartAt ? `, estimated start ${clock(q.estimatedStartAt)} UTC` : "";
  return `          queue position ${q.position}${eta}`;
}

export interface FollowOptions {
  print(line: string): void;
  /** Polling interval when the server offers no event stream. */
  pollMs?: number;
  /** Stream reconnections before falling back to polling. */
  reconnects?: number;
}

/**
 * Follows a submission until it is final, printing its timeline as it happens: over server-sent
 * events (resuming with Last-Event-ID after a dropped connection), falling back to polling the
 * status. Returns the final submission.
 */
export async function followSubmission(
  remote: Remote,
  id: string,
  opts: FollowOptions,
): Promise<SubmissionDetail> {
  let lastEventId: string | null = null;
  let ended = false;
  let lastQueue: string | null = null;
  const attempts = opts.reconnects ?? 5;
  for (let attempt = 0; attempt <= attempts && !ended; attempt++) {
    try {
      const headers: Record<string, string> = { accept: "text/event-stream", ...authHeaders(remote) };
      if (lastEventId !== null) headers["last-event-id"] = lastEventId;
      const res = await fetch(endpoint(remote, `/api/v1/submissions/${id}/events`), { headers });
      if (!res.ok) throw await problemOf(res);
      if (!res.body || !(res.headers.get("content-type") ?? "").includes("text/event-stream")) break;
      const parser = createParser({
        onEvent(event) {
          if (event.event === "timeline") {
            if (event.id) lastEventId = event.id;
            opts.print(timelineLine(JSON.parse(event.data) as TimelineEvent));
          } else if (event.event === "queue") {
            const line = queueLine(JSON.parse(event.data) as QueueEstimate);
            if (line && line !== lastQueue) opts.print(line);
            lastQueue = line;
          } else if (event.event === "end") {
            ended = true;
          }
        },
      });
      const decoder = new TextDecoder();
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        if (ended) break;
      }
    } catch (err) {
      // A refusal (404, 401) will not get better by retrying.
      if ((err as { status?: number }).status !== undefined) throw err;
      await new Promise((r) => setTimeout(r, Math.min(8000, 500 * 2 ** attempt)));
    }
  }
  if (ended) return getJson<SubmissionDetail>(remote, `/api/v1/submissions/${id}`);
  return pollSubmission(remote, id, opts);
}

async function pollSubmission(remote: Remote, id: string, opts: FollowOptions): Promise<SubmissionDetail> {
  let last = "";
  for (;;) {
    const s = await getJson<SubmissionDetail>(remote, `/api/v1/submissions/${id}`);
    const line = `${new Date().toISOString().slice(11, 19)}  ${s.state}${s.queuePosition ? ` (queue position ${s.queuePosition})` : ""}`;
    if (line.slice(10) !== last) opts.print(line);
    last = line.slice(10);
    if (isSubmissionState(s.state) && isFinalState(s.state)) return s;
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 2000));
  }
}
