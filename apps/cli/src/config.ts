import { z } from "zod";
import { parseConfig, postgresUrl } from "@holdout/contracts";

const CliDbConfigSchema = z.object({
  DATABASE_URL: postgresUrl,
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
