import { UnrecoverableError, type Job } from "bullmq";
import { LeaderTiesJobSchema, type LeaderTiesJob } from "@holdout/contracts";
import type { Db } from "@holdout/db";
import type { BootstrapOptions } from "@holdout/scorer";
import type { TestsetSource } from "../hidden-testset.ts";
import { refreshLeaderTies } from "../leader-ties.ts";
import type { Logger } from "../logger.ts";

/** Recomputes a competition's tie marks when the API asks (an entry hidden, shown, disqualified...). */
export function createLeaderTiesProcessor(deps: {
  db: Db;
  testset: TestsetSource;
  bootstrap: BootstrapOptions;
  log: Logger;
}) {
  return async (job: Job<LeaderTiesJob>): Promise<void> => {
    const parsed = LeaderTiesJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed job payload: ${parsed.error.message}`);
    const { competitionId, reason } = parsed.data;
    const result = await refreshLeaderTies(
      { db: deps.db, testset: deps.testset.get(), bootstrap: deps.bootstrap },
      competitionId,
    );
    deps.log.info({ competitionId, reason, ...result, jobId: job.id }, "tie marks refreshed");
  };
}
