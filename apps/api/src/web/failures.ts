import { assertNever, type FailureCategory } from "@holdout/contracts";

export interface FailureExplanation {
  /** A short title in plain words. */
  title: string;
  /** What happened, for someone who has never read the sandbox's code. */
  what: string;
  /** What to do about it. */
  next: string;
}

/** The closed set of failure categories, each explained for the team that submitted. */
export function explainFailure(category: FailureCategory): FailureExplanation {
  switch (category) {
    case "invalid_upload":
      return {
        title: "The code bundle could not be run as sent",
        what: "The bundle's command could not be run, or one of its files clashes with what the model is given (the input list, the output folder).",
        next: "Read the message below, which names the command or the file, fix the bundle (try the command on your machine in an empty folder with only the bundle), and submit again.",
      };
    case "image_rejected":
      return {
        title: "The image was refused before it ran",
        what: "The file is not a `docker save` archive (a code bundle goes in the bundle field), or the image breaks one of the competition's rules for images, for example its platform (it must be linux/amd64), its unpacked size, a declared volume, or how it starts.",
        next: "Read the reason below. Create the file with `docker save my-model:latest | gzip > model.tar.gz`, rebuild the image if a rule is broken (FROM the competition's base image is the safest start), and submit again.",
      };
    case "timeout":
      return {
        title: "The model ran out of time",
        what: "The model was still running when the time limit was reached, so it was stopped and its output was not used.",
        next: "Make prediction faster: load the weights once, batch the images, drop test-time augmentation, and time a run locally on the same number of CPUs without a GPU.",
      };
    case "out_of_memory":
      return {
        title: "The model used more memory than allowed",
        what: "The model's processes together went over the memory limit, so the system stopped them.",
        next: "Use smaller batches, read the images one by one instead of all at once, and check the peak with `docker run --memory=<limit>` before submitting again.",
      };
    case "nonzero_exit":
      return {
        title: "The model's program stopped with an error",
        what: "The program exited with a non-zero status before finishing, typically an uncaught exception or a missing file or package.",
        next: "Read the log below for the error. Run the image locally with the two arguments it gets (`test_image_paths.csv /out/predictions.csv`), with `--network none` and a read-only file system, to reproduce it.",
      };
    case "no_output":
      return {
        title: "The model wrote no predictions",
        what: "The program finished, but /out/predictions.csv was missing or empty.",
        next: "Write the predictions to the path given as the second argument (also in HOLDOUT_OUTPUT), and check the log below for a write error.",
      };
    case "invalid_output":
      return {
        title: "The predictions file is not in the required format",
        what: "predictions.csv was written, but it breaks the format: it needs a `Study` column and the five columns Atelectasis, Cardiomegaly, Consolidation, Edema and Pleural Effusion, one row per study with finite numbers.",
        next: "The message below names the first offending row or column. Fix the writer and submit again.",
      };
    case "infrastructure":
      return {
        title: "Something went wrong on our side",
        what: "The evaluation failed for a reason that is not your model's (the queue, a worker or the Docker engine). It was retried before giving up.",
        next: "Nothing to change in your model, and this attempt is not counted against your quota. Submit again; if it keeps happening, tell the organizers and quote the submission id.",
      };
    default:
      return assertNever(category);
  }
}
