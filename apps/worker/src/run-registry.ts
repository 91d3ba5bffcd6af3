/** Why a run was stopped from outside: its team cancelled it, or this worker is shutting down. */
export type StopReason = "cancel" | "shutdown";

/** The abort reason of a stopped run; the sandbox rejects with it once the containers are gone. */
export class RunStopped extends Error {
  override readonly name = "RunStopped";
  constructor(readonly reason: StopReason) {
    super(reason === "cancel" ? "the team cancelled the run" : "the worker is shutting down");
  }
}

/** The stop reason behind an error thrown by a run, if it was stopped (else undefined). */
export function stopReasonOf(err: unknown, signal: AbortSignal): StopReason | undefined {
  if (err instanceof RunStopped) return err.reason;
  if (signal.aborted && signal.reason instanceof RunStopped) return signal.reason.reason;
  return undefined;
}

/**
 * The evaluations this worker process is running, each with the AbortController that stops its
 * containers. The heartbeat reads the ids; cancel and shutdown abort through here.
 */
export class RunRegistry {
  private readonly runs = new Map<string, AbortController>();
  private shuttingDown = false;

  begin(submissionId: string): AbortSignal {
    const control = new AbortController();
    this.runs.set(submissionId, control);
    if (this.shuttingDown) control.abort(new RunStopped("shutdown"));
    return control.signal;
  }

  end(submissionId: string): void {
    this.runs.delete(submissionId);
  }

  ids(): string[] {
    return [...this.runs.keys()];
  }

  get closing(): boolean {
    return this.shuttingDown;
  }

  /** Stops one run; false if this worker is not running it. The first reason given wins. */
  stop(submissionId: string, reason: StopReason): boolean {
    const control = this.runs.get(submissionId);
    if (!control) return false;
    if (!control.signal.aborted) control.abort(new RunStopped(reason));
    return true;
  }

  /** Shutdown: stops every run, and every run that begins from now on. */
  stopAll(): void {
    this.shuttingDown = true;
    for (const id of this.runs.keys()) this.stop(id, "shutdown");
  }
}
