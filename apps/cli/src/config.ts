import { z } from "zod";
import { parseConfig, postgresUrl, queuePrefix, redisUrl } from "@holdout/contracts";

const CliDbConfigSchema = z.object({
  DATABASE_URL: postgresUrl,
  /**
   * Optional for organizer commands: with it, `competition close` asks the workers to compute the
   * final board's tie marks at once (HOLDOUT_QUEUE_PREFIX as the workers').
   */
  REDIS_URL: redisUrl.optional(),
  HOLDOUT_QUEUE_PREFIX: queuePrefix,
  HOLDOUT_COMPETITION: z
    .string()
    .regex(/^[a-z0-9-]+$/)
    .default("chexpert"),
  HOLDOUT_COMPETITION_NAME: z.string().min(1).default("CheXpert"),
});

/** The organizer commands' database settings, read from the environment only when needed. */
export function loadCliDbConfig(env: NodeJS.ProcessEnv) {
  return parseConfig("holdout (organizer commands)", CliDbConfigSchema, env);
}
