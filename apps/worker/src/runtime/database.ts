import { ConfigError } from "@holdout/contracts";
import { createDb, findCompetitionBySlug, type Db } from "@holdout/db";
import type { WorkerConfig } from "../config.ts";
import type { Logger } from "../logger.ts";

/**
 * The worker's database (a pool sized for its runs and its own background work) and, with
 * HOLDOUT_COMPETITION, the id of the competition it reconciles. A competition that does not appear
 * in time is a configuration problem: the connection is closed and the start refused.
 */
export async function openDatabase(
  config: WorkerConfig,
  log: Logger,
): Promise<{ db: Db; competitionId: string | undefined }> {
  const db = createDb(config.DATABASE_URL, { poolSize: 4 + config.HOLDOUT_WORKER_CONCURRENCY });
  const slug = config.HOLDOUT_COMPETITION;
  if (!slug) return { db, competitionId: undefined };
  const competitionId = await awaitCompetition(db, slug, config.HOLDOUT_COMPETITION_WAIT_SECONDS * 1000, log);
  if (!competitionId) {
    await db.$disconnect();
    throw new ConfigError("the worker", [
      `HOLDOUT_COMPETITION: no competition ${slug} in the database after waiting ${config.HOLDOUT_COMPETITION_WAIT_SECONDS} s (the API creates it on its first start; check the slug)`,
    ]);
  }
  return { db, competitionId };
}

/**
 * The competition's id once it exists: a worker started together with a fresh deployment's API
 * (compose, the demo) may look before the API has created it. Undefined after `waitMs` without it.
 */
async function awaitCompetition(
  db: Db,
  slug: string,
  waitMs: number,
  log: Logger,
): Promise<string | undefined> {
  const deadline = Date.now() + waitMs;
  for (let first = true; ; first = false) {
    const found = await findCompetitionBySlug(db, slug);
    if (found) return found.id;
    const left = deadline - Date.now();
    if (left <= 0) return undefined;
    if (first)
      log.info(
        { slug, waitSeconds: Math.round(waitMs / 1000) },
        "competition not in the database yet; waiting for the API to create it",
      );
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, left)));
  }
}
