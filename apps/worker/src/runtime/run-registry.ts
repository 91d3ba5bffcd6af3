import type { RunLease } from "@holdout/db";

/**
 * Why a run was stopped from outside: its team cancelled it, this worker is shutting down, or the
 * run lost its lease (it lapsed and another run took the submission over, or the reconciler gave it
 * back to the queue).
 */
export type StopReason = "cancel" | "shutdown" | "lost";

const STOPPED: Record<StopReason, string> = {
  cancel: "the team cancelled the run",
  shutdown: "the worker is shutting down",
  lost: "the run no longer holds the submission's lease",
};

/** The abort reason of a stopped run; the sandbox rejects with it once the containers are gone. */
export class RunStopped extends Error {
  override readonly name = "RunStopped";
  constructor(readonly reason: StopReason) {
    super(STOPPED[reason]);
  }
}

/** The stop reason behind an error thrown by a run, if it was stopped (else undefined). */
export function stopReasonOf(err: unknown, signal: AbortSignal): StopReason | undefined {
  if (err instanceof RunStopped) return err.reason;
  if (signal.aborted && signal.reason instanceof RunStopped) return signal.reason.reason;
  return undefined;
}

/** One delivery of an evaluate job that this worker is processing. */
export interface Run {
  readonly submissionId: string;
  /** Aborted (with a RunStopped reason) to stop the run's containers. */
  readonly signal: AbortSignal;
  /** Set once the run holds the submission (startRun); the heartbeat renews it. */
  lease: RunLease | null;
}

/**
 * The runs this worker process has in progress, each with the AbortController that stops it. Keyed
 * by delivery, not by submission: a job BullMQ hands out again while this process still runs it
 * (a stalled check after a late lock renewal) is a second entry that must not replace the first,
 * whose lease the heartbeat keeps renewing. The heartbeat reads the leases; cancel, shutdown and a
 * lost lease abort through here.
 */
export class RunRegistry {
  private readonly runs = new Map<Run, AbortController>();
  private shuttingDown = false;

  begin(submissionId: string): Run {
    const control = new AbortController();
    const run: Run = { submissionId, signal: control.signal, lease: null };
    this.runs.set(run, control);
    if (this.shuttingDown) control.abort(new RunStopped("shutdown"));
    return run;
  }

  end(run: Run): void {
    this.runs.delete(run);
  }

  /** The submissions this worker is working on (with or without a lease yet). */
  ids(): string[] {
    return [...new Set([...this.runs.keys()].map((r) => r.submissionId))];
  }

  /** The leases held by this worker's runs. */
  leases(): RunLease[] {
    return [...this.runs.keys()].flatMap((r) => (r.lease ? [r.lease] : []));
  }

  get closing(): boolean {
    return this.shuttingDown;
  }

  /**
   * Stops this worker's runs of a submission (with `lease`: only the run holding that lease); false
   * if there is none. The first reason given wins.
   */
  stop(submissionId: string, reason: StopReason, lease?: RunLease): boolean {
    let found = false;
    for (const [run, control] of this.runs) {
      if (run.submissionId !== submissionId) continue;
      if (lease && run.lease?.token !== lease.token) continue;
      found = true;
      if (!control.signal.aborted) control.abort(new RunStopped(reason));
    }
    return found;
  }

  /** Shutdown: stops every run, and every run that begins from now on. */
  stopAll(): void {
    this.shuttingDown = true;
    for (const [, control] of this.runs) {
      if (!control.signal.aborted) control.abort(new RunStopped("shutdown"));
    }
  }
}
