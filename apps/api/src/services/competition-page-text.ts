// The competition page's standard wording: the parts an organizer has not written (Markdown), and
// the metric's rules as the scorer applies them (docs/architecture.md, "Contract 3"). One place, so
// the page, its JSON and the registration form say the same.

/** The data-use terms a team accepts when the competition names none of its own. */
export const STANDARD_TERMS = [
  "By registering, your team agrees to these terms:",
  "",
  "1. Use the competition's data (the development set and anything you can see of the test set) only to take part in this competition, and do not pass it on.",
  "2. Do not try to identify any patient, or to recover the hidden test set's labels by any means other than building a better model.",
  "3. One team per person; do not share submissions or quota between teams.",
  "4. The organizers may hide or disqualify entries that break these terms, and publish the final ranking with your team's name, model name and scores.",
].join("\n");

export const STANDARD_OVERVIEW = {
  chexpert:
    "Build a model that reads chest X-rays and predicts five observations: Atelectasis, Cardiomegaly, Consolidation, Edema and Pleural Effusion. Every model is evaluated on a hidden test set whose labels never leave the evaluation workers, against the benchmark radiologists' reads, and ranked on the public leaderboard.",
  "mean-auc":
    "Build a model that predicts the binary labels listed under the metric below. Every model is evaluated on a hidden test set whose labels never leave the evaluation workers, and ranked on the public leaderboard.",
} as const;

export const STANDARD_DATA = [
  "Your model gets the test images read-only in its working directory `/workspace` and their list in `test_image_paths.csv` (header `Path`, one image per row). It writes `predictions.csv` to `/out`: a `Study` column (the image path without `/view…jpg`) and one column per task, one row per study, any finite numbers (only their order matters).",
  "",
  "The hidden test set's labels are never shown. To test locally, make a development set of the same layout with the `holdout` command: `holdout testset generate --dev --out devset`, then score your predictions on it with `holdout score --testset devset --predictions predictions.csv`.",
].join("\n");

export const STANDARD_RULES = [
  "- Submit a Docker image (`docker save`, plain or gzipped) or a code bundle run in the runtime image listed below.",
  "- Each submission first runs on a few development-set studies (the smoke run): a failure there is shown in full and does not count against your quota.",
  "- While the competition is open, scores are released rounded to the precision below; per-study detail and curves are never shown before it closes.",
  "- Failures caused by the server (infrastructure) never count against your quota; every other failure does.",
].join("\n");

/** The metric as the scorer applies it, for the page and its JSON. */
export function metricText(scorer: "chexpert" | "mean-auc", tasks: readonly string[]) {
  const list = tasks.join(", ");
  const common = [
    `predictions.csv holds a Study column and exactly-named columns ${list}; extra columns are ignored, column order is free, one row per test study, no duplicates or extra studies; a trailing / on Study is ignored; values are finite real numbers.`,
    "Per task: the ROC AUC over the study rows (ties count one half, as scikit-learn's roc_auc_score).",
  ];
  if (scorer === "chexpert") {
    return {
      description: `Mean AUC over the ${tasks.length} CheXpert tasks (${list}), and Num Rads Below Curve: how many of the benchmark radiologists the model's ROC curve passes, on average over the tasks (0 to 3).`,
      rules: [
        ...common,
        `Mean AUC: the unweighted mean of the ${tasks.length} task AUCs.`,
        "A radiologist counts as below the curve on a task when the model's ROC curve (scikit-learn's roc_curve with its defaults) reaches at least the radiologist's sensitivity at the radiologist's false-positive rate. Num Rads Below Curve is the mean over the tasks of that count.",
      ],
      ranking:
        "score = mean AUC + 0.001 × Num Rads Below Curve, descending; equal scores share a rank. Displayed: AUC to 3 significant digits, Num Rads Below Curve to 2.",
    };
  }
  return {
    description: `Mean AUC over the ${tasks.length} label columns ${list}.`,
    rules: [...common, `Mean AUC: the unweighted mean of the ${tasks.length} task AUCs.`],
    ranking: "score = mean AUC, descending; equal scores share a rank.",
  };
}
