import { Redis } from "ioredis";
import { createQueue, leaderTiesJobOptions, QUEUE_LEADER_TIES } from "@holdout/contracts";
import type { loadCliDbConfig } from "../config.ts";

/** Asks the workers to compute a competition's tie marks now; false if there is no Redis to ask. */
export async function queueTieMarks(
  config: Pick<ReturnType<typeof loadCliDbConfig>, "REDIS_URL" | "HOLDOUT_QUEUE_PREFIX">,
  competitionId: string,
  reason: string,
): Promise<boolean> {
  if (!config.REDIS_URL) return false;
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1 });
  const queue = createQueue(redis, QUEUE_LEADER_TIES, { prefix: config.HOLDOUT_QUEUE_PREFIX });
  try {
    await queue.add(QUEUE_LEADER_TIES, { competitionId, reason }, leaderTiesJobOptions(competitionId));
    return true;
  } finally {
    await queue.close();
    await redis.quit();
  }
}
