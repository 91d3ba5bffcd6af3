// Closed sets shared by the API, the worker and the database layer. DESIGN.md defines them;
// adding a member means handling it in every exhaustive switch.

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
