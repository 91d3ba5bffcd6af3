import { UnrecoverableError, type Job } from "bullmq";
import {
  LeaderTiesJobSchema,
  leaderTiesJobOptions,
  QUEUE_LEADER_TIES,
  type LeaderTiesJob,
  type LeaderTiesQueue,
} from "@holdout/contracts";
import type { Db } from "@holdout/db";
import type { BootstrapOptions } from "@holdout/scorer";
import type { HiddenTestset } from "../scoring/hidden-testset.ts";
import type { CompetitionSets } from "./competition-sets.ts";
import { refreshLeaderTies } from "../scoring/leader-ties.ts";
import type { Logger } from "../logger.ts";

/** Recomputes a competition's tie marks when the API asks (an entry hidden, shown, disqualified...). */
export function createLeaderTiesProcessor(deps: {
  db: Db;
  sets: Pick<CompetitionSets, "forCompetition">;
  bootstrap: BootstrapOptions;
  log: Logger;
}) {
  return async (job: Job<LeaderTiesJob>): Promise<void> => {
    const parsed = LeaderTiesJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed job payload: ${parsed.error.message}`);
    const { competitionId, reason } = parsed.data;
    const { hidden } = await deps.sets.forCompetition(deps.db, competitionId);
    const result = await refreshLeaderTies(
      { db: deps.db, testset: hidden.testset, bootstrap: deps.bootstrap },
      competitionId,
    );
    deps.log.info({ competitionId, reason, ...result, jobId: job.id }, "tie marks refreshed");
  };
}

/** Refreshes a competition's tie marks after a score or a re-score (with the test set it used). */
export type RefreshTies = (competitionId: string, testset: HiddenTestset, log: Logger) => Promise<void>;

/**
 * The refresh a score or re-score ends with. It never fails its job: the score itself is stored,
 * and when the refresh fails the marks are recomputed by a leader-ties job (with retries) instead.
 */
export function tieRefresher(deps: {
  db: Db;
  bootstrap: BootstrapOptions;
  queue: Pick<LeaderTiesQueue, "add">;
}): RefreshTies {
  return async (competitionId, testset, log) => {
    try {
      const r = await refreshLeaderTies({ db: deps.db, testset, bootstrap: deps.bootstrap }, competitionId);
      log.info({ competitionId, ...r }, "tie marks refreshed");
    } catch (err) {
      log.error({ err, competitionId }, "could not refresh tie marks; leaving it to a leader-ties job");
      await deps.queue.add(
        QUEUE_LEADER_TIES,
        { competitionId, reason: "retry after a failed refresh" },
        leaderTiesJobOptions(competitionId),
      );
    }
  };
}
