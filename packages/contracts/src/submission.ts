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

/**
 * What a team reads about a failure of the hidden run, per category: fixed text, never anything the
 * model wrote or the test set holds (a message that echoed the predictions' cells, a missing-study
 * list or an exit code would let a model carry the hidden set out a few bytes per submission). The
 * worker stores the full message apart, for organizers. The smoke run's failures keep their detail:
 * its development set is public.
 */
export function hiddenRunFailureText(category: FailureCategory): string {
  const hidden = "in the hidden run on the test set (the smoke run on development studies had passed)";
  const withheld = "its detail is kept for the organizers, as nothing about the hidden run is shown";
  switch (category) {
    case "invalid_upload":
      return `the bundle could not be set up beside the test images ${hidden}; ${withheld}`;
    case "image_rejected":
      return `the image was refused ${hidden}; ${withheld}`;
    case "timeout":
      return `the model was still running at the time limit ${hidden}; ${withheld}`;
    case "out_of_memory":
      return `the model went over the memory limit ${hidden}; ${withheld}`;
    case "nonzero_exit":
      return `the model exited with an error ${hidden}; ${withheld}`;
    case "no_output":
      return `the model wrote no predictions file ${hidden}; ${withheld}`;
    case "invalid_output":
      return `the predictions file broke the required format ${hidden} (a row per test study, the five task columns, finite numbers); ${withheld}`;
    case "infrastructure":
      return "the evaluation could not be completed because of a server-side fault; it is not charged to your team";
    default:
      return assertNever(category);
  }
}
