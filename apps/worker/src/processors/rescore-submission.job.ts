import { UnrecoverableError, type Job } from "bullmq";
import { RescoreJobSchema, type RescoreJob } from "@holdout/contracts";
import {
  addSubmissionNote,
  findSubmission,
  findSubmissionPhase,
  findSubmissionPredictions,
  getCompetitionPolicy,
  replaceScore,
  type Db,
} from "@holdout/db";
import { PredictionsError, type BootstrapOptions } from "@holdout/scorer";
import type { HiddenTestset } from "../scoring/hidden-testset.ts";
import type { CompetitionSets } from "./competition-sets.ts";
import type { Logger } from "../logger.ts";
import { scoreRecord, splitOf } from "../scoring/scores.ts";
import { scoringProvenance } from "./provenance.ts";

export interface RescoreDeps {
  db: Db;
  sets: Pick<CompetitionSets, "forCompetition" | "reload">;
  bootstrap: BootstrapOptions;
  workerName: string;
  log: Logger;
  /** After a re-score: refresh the competition's tie marks (with the test set just used). */
  afterRescore(competitionId: string, testset: HiddenTestset, log: Logger): Promise<void>;
}

/**
 * Re-scores a scored submission's stored predictions against the test set as it is on disk now (after
 * a label correction, say), without running the model: scores, intervals and curves are replaced in one
 * transaction with a timeline event "re-scored by <who>", then the tie marks are refreshed. What cannot
 * be re-scored (not scored, no stored predictions, predictions that no longer fit the test set) is said
 * on the submission's timeline and the job completes: retrying would not change it.
 */
export function createRescoreProcessor(deps: RescoreDeps) {
  return async (job: Job<RescoreJob>): Promise<void> => {
    const parsed = RescoreJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed job payload: ${parsed.error.message}`);
    const { submissionId, requestedBy } = parsed.data;
    const log = deps.log.child({ submissionId, jobId: job.id });
    const refuse = async (why: string) => {
      log.warn({ why }, "re-score not done");
      await addSubmissionNote(
        deps.db,
        submissionId,
        `re-score requested by ${requestedBy} not done: ${why}`,
        deps.workerName,
      );
    };

    const submission = await findSubmission(deps.db, submissionId);
    if (!submission) throw new UnrecoverableError(`submission ${submissionId} does not exist`);
    if (submission.state !== "scored") return refuse(`it is ${submission.state}, not scored`);
    const csv = await findSubmissionPredictions(deps.db, submissionId);
    if (csv === null) return refuse("its predictions were not kept (scored before predictions were stored)");
    // The set the submission was scored on (a development phase's is the development set), read
    // again from disk: a corrected label file is what a re-score is for.
    const inputs = await deps.sets.forCompetition(deps.db, submission.competitionId);
    const onDev = (await findSubmissionPhase(deps.db, submissionId))?.data === "development";
    const scored = onDev ? inputs.dev : inputs.hidden;
    if (!scored) return refuse("its competition's development set is not on this worker");
    const set = await deps.sets.reload(scored.ref);
    const { testset } = set;
    let predictions;
    try {
      predictions = testset.scorer.parsePredictions(csv, testset.studies, "the stored predictions");
    } catch (err) {
      if (err instanceof PredictionsError) {
        // The parser's message names test studies: the worker's log keeps it, the timeline does not.
        log.warn({ err }, "stored predictions do not fit the current test set");
        return refuse("the stored predictions do not fit the current test set (its studies changed)");
      }
      throw err;
    }
    const split = onDev ? null : splitOf(await getCompetitionPolicy(deps.db, submission.competitionId));
    const record = scoreRecord(testset, predictions, deps.bootstrap, split);
    const replaced = await replaceScore(
      deps.db,
      submissionId,
      record,
      { worker: deps.workerName, detail: `re-scored by ${requestedBy}` },
      { actor: requestedBy, worker: deps.workerName, ...scoringProvenance(set, deps.bootstrap) },
    );
    if (!replaced) return refuse("it stopped being scored meanwhile");
    log.info({ before: submission.meanAuc, after: record.meanAuc }, "re-scored");
    await deps.afterRescore(submission.competitionId, onDev ? inputs.hidden.testset : testset, log);
  };
}
