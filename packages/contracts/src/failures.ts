import { assertNever, type FailureCategory } from "./submission.ts";

// What a team reads about each failure category, in one place: the web's submission page and
// `holdout status` / `holdout submit --wait` print these words, and the worker stores the hidden
// run's fixed texts. Both the page and the terminal show them, so they point at "the evaluator's
// message" and "the run's log", never at something "below" or "above".

export interface FailureExplanation {
  /** A short title in plain words. */
  title: string;
  /** What happened, for someone who has never read the sandbox's code. */
  what: string;
  /** What to do about it. */
  next: string;
}

/** Exactly one explanation per category: the record's type refuses a missing or an unknown one. */
export const FAILURE_EXPLANATIONS: Readonly<Record<FailureCategory, FailureExplanation>> = {
  invalid_upload: {
    title: "The code bundle could not be run as sent",
    what: "The bundle's command could not be run, or one of its files clashes with what the model is given (the input list, the output folder).",
    next: "Read the evaluator's message, which names the command or the file, fix the bundle (try the command on your machine in an empty folder with only the bundle), and submit again.",
  },
  image_rejected: {
    title: "The image was refused before it ran",
    what: "The file is not a `docker save` archive (a code bundle goes in the bundle field), or the image breaks one of the competition's rules for images, for example its platform (it must be linux/amd64), its unpacked size, a declared volume, or how it starts.",
    next: "Read the evaluator's reason. Create the file with `docker save my-model:latest | gzip > model.tar.gz`, rebuild the image if a rule is broken (FROM the competition's base image is the safest start), and submit again.",
  },
  timeout: {
    title: "The model ran out of time",
    what: "The model was still running when the time limit was reached, so it was stopped and its output was not used.",
    next: "Make prediction faster: load the weights once, batch the images, drop test-time augmentation, and time a run locally on the same number of CPUs without a GPU.",
  },
  out_of_memory: {
    title: "The model used more memory than allowed",
    what: "The model's processes together went over the memory limit, so the system stopped them.",
    next: "Use smaller batches, read the images one by one instead of all at once, and check the peak with `docker run --memory=<limit>` before submitting again.",
  },
  nonzero_exit: {
    title: "The model's program stopped with an error",
    what: "The program exited with a non-zero status before finishing, typically an uncaught exception or a missing file or package.",
    next: "Read the run's log for the error. Run the image locally with the two arguments it gets (`test_image_paths.csv /out/predictions.csv`), with `--network none` and a read-only file system, to reproduce it.",
  },
  no_output: {
    title: "The model wrote no predictions",
    what: "The program finished, but /out/predictions.csv was missing or empty.",
    next: "Write the predictions to the path given as the second argument (also in HOLDOUT_OUTPUT), and check the run's log for a write error.",
  },
  invalid_output: {
    title: "The predictions file is not in the required format",
    what: "predictions.csv was written, but it breaks the format: it needs a `Study` column and the five columns Atelectasis, Cardiomegaly, Consolidation, Edema and Pleural Effusion, one row per study with finite numbers.",
    next: "The evaluator's message names the first offending row or column. Fix the writer and submit again.",
  },
  infrastructure: {
    title: "Something went wrong on our side",
    what: "The evaluation failed for a reason that is not your model's (the queue, a worker or the Docker engine). It was retried before giving up.",
    next: "Nothing to change in your model, and this attempt is not counted against your quota. Submit again; if it keeps happening, tell the organizers and quote the submission id.",
  },
};

/** The closed set of failure categories, each explained for the team that submitted. */
export function explainFailure(category: FailureCategory): FailureExplanation {
  return FAILURE_EXPLANATIONS[category];
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
