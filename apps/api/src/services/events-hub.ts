import type { QueueEstimate, TimelineEvent } from "@holdout/contracts/http";
import { listNewSubmissionEvents, type Db } from "@holdout/db";
import { queueEstimates, NOT_QUEUED } from "./queue-position.ts";

export function timelineEvent(e: {
  id: bigint;
  at: Date;
  state: string;
  worker: string | null;
  detail: string | null;
}): TimelineEvent {
  return { id: e.id.toString(), at: e.at.toISOString(), state: e.state, worker: e.worker, detail: e.detail };
}

/** A stream following one submission. */
export interface Watcher {
  submissionId: string;
  /** The last event id the stream has delivered; only later ones are handed to it. */
  cursor: bigint;
  /** Whether the submission is queued as far as the stream knows (it gets queue estimates). */
  queued: boolean;
  onEvents(events: TimelineEvent[]): void;
  onQueue(estimate: QueueEstimate): void;
  /** The server is shutting down: end the stream (the client reconnects to another process). */
  onClose(): void;
}

export interface EventHubOptions {
  intervalMs: number;
  /** At most this many event rows per poll; a backlog is read over several polls. */
  batch: number;
  onError(err: unknown): void;
}

/**
 * Feeds every open event stream of this API process from ONE shared poller: while at least one
 * stream is open, a single query per interval reads the new timeline rows of all watched
 * submissions (each from its own cursor), plus one queue-position query when any of them is queued.
 * Events written by any worker or API process reach the streams the same way, the cost is bounded
 * by the interval, not by the number of clients, and no database connection is held between polls
 * (the shared pool serves them). With no stream open, the poller stops.
 */
export class EventHub {
  readonly #db: Db;
  readonly #competitionId: string;
  readonly #opts: EventHubOptions;
  readonly #watchers = new Set<Watcher>();
  #timer: NodeJS.Timeout | null = null;
  #polling = false;
  #closed = false;

  constructor(db: Db, competitionId: string, opts: Partial<EventHubOptions> = {}) {
    this.#db = db;
    this.#competitionId = competitionId;
    this.#opts = {
      intervalMs: opts.intervalMs ?? 1000,
      batch: opts.batch ?? 500,
      onError: opts.onError ?? (() => {}),
    };
  }

  /** Open streams, and whether the poller runs (both 0/false once every client has gone). */
  get stats() {
    return { watchers: this.#watchers.size, polling: this.#timer !== null || this.#polling };
  }

  /** Starts following; the returned function stops (call it when the client goes away). */
  watch(w: Watcher): () => void {
    if (this.#closed) throw new Error("the event hub is closed");
    this.#watchers.add(w);
    this.#schedule();
    return () => {
      this.#watchers.delete(w);
      if (this.#watchers.size === 0 && this.#timer) {
        clearTimeout(this.#timer);
        this.#timer = null;
      }
    };
  }

  /** Ends every open stream (before the server closes: it would otherwise wait for them). */
  close() {
    this.#closed = true;
    for (const w of [...this.#watchers]) w.onClose();
    this.#watchers.clear();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule() {
    if (this.#timer || this.#polling || this.#closed || this.#watchers.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#polling = true;
      this.#poll()
        .catch((err: unknown) => this.#opts.onError(err))
        .finally(() => {
          this.#polling = false;
          this.#schedule();
        });
    }, this.#opts.intervalMs);
  }

  async #poll() {
    const cursors = new Map<string, bigint>();
    for (const w of this.#watchers) {
      const c = cursors.get(w.submissionId);
      if (c === undefined || w.cursor < c) cursors.set(w.submissionId, w.cursor);
    }
    if (cursors.size === 0) return;
    const rows = await listNewSubmissionEvents(this.#db, cursors, this.#opts.batch);
    for (const w of [...this.#watchers]) {
      const mine = rows.filter((r) => r.submissionId === w.submissionId && r.id > w.cursor);
      if (mine.length === 0) continue;
      w.cursor = mine[mine.length - 1]!.id;
      w.onEvents(mine.map(timelineEvent));
    }
    const queued = [...this.#watchers].filter((w) => w.queued);
    if (queued.length === 0) return;
    const estimates = await queueEstimates(this.#db, this.#competitionId);
    for (const w of queued) w.onQueue(estimates.get(w.submissionId) ?? NOT_QUEUED);
  }
}

declare module "fastify" {
  interface FastifyInstance {
    /** The shared poller behind the event streams (its `stats` show open streams). */
    submissionEvents: EventHub;
  }
}
