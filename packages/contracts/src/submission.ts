// Closed sets shared by the API, the worker, the database layer and the CLI (docs/architecture.md,
// "The submission's state machine"); adding a member means handling it in every exhaustive switch.

/** Submission, team and upload ids are UUIDs (the database makes them); nothing else names one. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const SUBMISSION_STATES = [
  "received",
  "queued",
  "running",
  "scoring",
  "scored",
  "failed",
  "cancelled",
] as const;
export type SubmissionState = (typeof SUBMISSION_STATES)[number];

export const FINAL_STATES: readonly SubmissionState[] = ["scored", "failed", "cancelled"];
export function isFinalState(state: SubmissionState): boolean {
  return FINAL_STATES.includes(state);
}

/** The states a submission is in until it is final: a worker, or the queue, still owes it an ending. */
export const ACTIVE_STATES = [
  "received",
  "queued",
  "running",
  "scoring",
] as const satisfies readonly SubmissionState[];

/** Whether a state read off the wire (a client gets strings) is one of ours. */
export function isSubmissionState(value: string): value is SubmissionState {
  return (SUBMISSION_STATES as readonly string[]).includes(value);
}

export const FAILURE_CATEGORIES = [
  "invalid_upload",
  "image_rejected",
  "timeout",
  "out_of_memory",
  "nonzero_exit",
  "no_output",
  "invalid_output",
  "infrastructure",
] as const;
export type FailureCategory = (typeof FAILURE_CATEGORIES)[number];

/** Whether a category read off the wire is one of ours (a newer server may know more). */
export function isFailureCategory(value: string): value is FailureCategory {
  return (FAILURE_CATEGORIES as readonly string[]).includes(value);
}

/** Whether a failure is the team's doing (charged to its quota) or ours (retried, refunded). */
export function isTeamFault(category: FailureCategory): boolean {
  switch (category) {
    case "invalid_upload":
    case "image_rejected":
    case "timeout":
    case "out_of_memory":
    case "nonzero_exit":
    case "no_output":
    case "invalid_output":
      return true;
    case "infrastructure":
      return false;
    default:
      return assertNever(category);
  }
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${String(value)}`);
}
